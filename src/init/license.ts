/**
 * License detection for `kit init`.
 *
 * kit runs google/licensecheck over the LICENSE file and keeps the SPDX id only when exactly one
 * license matches (docs/format.md#init). We do not ship license texts; instead each common license is
 * recognised by a few short, distinctive phrases (our own selection), compared after normalising
 * the text: lower case, every run of characters other than `a-z0-9` becomes one space. A phrase
 * only matches on whole words.
 *
 * A license matches when all phrases of one of its alternatives are present and none of its
 * excluded phrases is. The result is the id when exactly one license matches, otherwise
 * `undefined` (no match, or several licenses in one file — the caller warns in both cases).
 * @module
 */

interface Fingerprint {
  id: string;
  /** Alternatives; each is a list of phrases that must all be present. */
  anyOf: string[][];
  /** Phrases whose presence rules this license out (used to tell close relatives apart). */
  none?: string[];
}

// Phrases below are written in normalised form (see normalise()).
const BSD_REDISTRIBUTION =
  "redistribution and use in source and binary forms with or without modification are permitted provided that";
const BSD_ENDORSE = "endorse or promote products derived from this software";
const BSD_ADVERTISING = "all advertising materials mentioning features";
const CC_VARIANTS = ["noncommercial", "noderivatives", "noderivs"];

const FINGERPRINTS: Fingerprint[] = [
  {
    id: "MIT",
    anyOf: [
      [
        "permission is hereby granted free of charge to any person obtaining a copy of this software",
        "above copyright notice and this permission notice shall be included in all copies or substantial portions",
      ],
    ],
  },
  {
    id: "Apache-2.0",
    anyOf: [["apache license version 2 0"], ["apache license", "version 2 0", "www apache org licenses license 2 0"]],
  },
  {
    id: "BSD-2-Clause",
    anyOf: [[BSD_REDISTRIBUTION, "redistributions in binary form must reproduce the above copyright notice"]],
    none: [BSD_ENDORSE, BSD_ADVERTISING],
  },
  {
    id: "BSD-3-Clause",
    anyOf: [[BSD_REDISTRIBUTION, `${BSD_ENDORSE} without specific prior written permission`]],
    none: [BSD_ADVERTISING],
  },
  { id: "GPL-2.0", anyOf: [["gnu general public license version 2 june 1991"]] },
  {
    id: "GPL-3.0",
    anyOf: [
      ["gnu general public license version 3 29 june 2007"],
      ["the gnu general public license is a free copyleft license for software and other kinds of works"],
    ],
  },
  { id: "LGPL-2.1", anyOf: [["gnu lesser general public license version 2 1 february 1999"]] },
  { id: "LGPL-3.0", anyOf: [["gnu lesser general public license version 3 29 june 2007"]] },
  { id: "AGPL-3.0", anyOf: [["gnu affero general public license version 3 19 november 2007"]] },
  { id: "MPL-2.0", anyOf: [["mozilla public license version 2 0"], ["mozilla public license v 2 0"]] },
  {
    id: "ISC",
    anyOf: [
      [
        "permission to use copy modify and or distribute this software for any purpose with or without fee is hereby granted",
        "provided that the above copyright notice and this permission notice appear in all copies",
      ],
    ],
  },
  { id: "Unlicense", anyOf: [["this is free and unencumbered software released into the public domain"]] },
  { id: "CC0-1.0", anyOf: [["cc0 1 0 universal"]] },
  {
    id: "CC-BY-4.0",
    anyOf: [["creative commons attribution 4 0 international"]],
    none: ["sharealike", ...CC_VARIANTS],
  },
  {
    id: "CC-BY-SA-4.0",
    anyOf: [["creative commons attribution sharealike 4 0 international"]],
    none: CC_VARIANTS,
  },
  { id: "BSL-1.0", anyOf: [["boost software license version 1 0"]] },
  { id: "EPL-2.0", anyOf: [["eclipse public license v 2 0"], ["eclipse public license version 2 0"]] },
  // Meta's community licenses have no SPDX id; the ids below are named after the license titles.
  { id: "Llama-2", anyOf: [["llama 2 community license agreement"]] },
  { id: "Llama-3", anyOf: [["meta llama 3 community license agreement"]] },
  { id: "Llama-3.1", anyOf: [["llama 3 1 community license agreement"]] },
  { id: "Llama-3.2", anyOf: [["llama 3 2 community license agreement"]] },
  { id: "Llama-3.3", anyOf: [["llama 3 3 community license agreement"]] },
];

/** Lower-cases and turns every run of non-alphanumeric characters into one space, padded at both ends. */
function normalise(text: string): string {
  return ` ${text.toLowerCase().replace(/[^a-z0-9]+/g, " ").trim()} `;
}

function has(norm: string, phrase: string): boolean {
  return norm.includes(` ${phrase} `);
}

/** Returns the ids of every license whose fingerprint matches `text` (in table order). */
export function matchLicenses(text: string): string[] {
  const norm = normalise(text);
  const out: string[] = [];
  for (const fp of FINGERPRINTS) {
    if (fp.none?.some((p) => has(norm, p))) continue;
    if (fp.anyOf.some((alt) => alt.every((p) => has(norm, p)))) out.push(fp.id);
  }
  return out;
}

/** The SPDX id of the license in `text` when exactly one common license matches; else `undefined`. */
export function detectLicense(text: string): string | undefined {
  const ids = matchLicenses(text);
  return ids.length === 1 ? ids[0] : undefined;
}
