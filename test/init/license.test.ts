import { describe, expect, test } from "bun:test";
import { detectLicense, matchLicenses } from "../../src/init/license.ts";

// Short excerpts only (the distinctive sentences, re-wrapped), never whole license texts.
const MIT = `MIT License

Copyright (c) 2024 Example Person

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, ...

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", ...`;

const APACHE = `
                                 Apache License
                           Version 2.0, January 2004
                        http://www.apache.org/licenses/

   TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION
   ...`;

const APACHE_NOTICE = `Copyright 2024 Example
Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.`;

const BSD_COMMON = `Copyright (c) 2020, Someone
Redistribution and use in source and binary forms, with or without
modification, are permitted provided that the following conditions are met:
1. Redistributions of source code must retain the above copyright notice, ...
2. Redistributions in binary form must reproduce the above copyright notice,
   this list of conditions and the following disclaimer ...`;
const BSD_CLAUSE3 = `3. Neither the name of the copyright holder nor the names of its
   contributors may be used to endorse or promote products derived from
   this software without specific prior written permission.`;

describe("detectLicense", () => {
  const cases: Array<[string, string, string | undefined]> = [
    ["MIT", MIT, "MIT"],
    ["MIT re-wrapped and upper-cased", MIT.toUpperCase().replaceAll("\n", " \r\n  "), "MIT"],
    ["Apache full-text header", APACHE, "Apache-2.0"],
    ["Apache file notice", APACHE_NOTICE, "Apache-2.0"],
    ["BSD-2-Clause", BSD_COMMON, "BSD-2-Clause"],
    ["BSD-3-Clause", `${BSD_COMMON}\n${BSD_CLAUSE3}`, "BSD-3-Clause"],
    ["BSD with advertising clause", `${BSD_COMMON}\n3. All advertising materials mentioning features or use`, undefined],
    ["GPL-2.0", "GNU GENERAL PUBLIC LICENSE\n Version 2, June 1991\n ...", "GPL-2.0"],
    ["GPL-3.0", "GNU GENERAL PUBLIC LICENSE\n Version 3, 29 June 2007\n ...", "GPL-3.0"],
    ["LGPL-2.1", "GNU LESSER GENERAL PUBLIC LICENSE\n Version 2.1, February 1999", "LGPL-2.1"],
    ["LGPL-3.0 (mentions the GPL)", "GNU LESSER GENERAL PUBLIC LICENSE\nVersion 3, 29 June 2007\n\"The GNU GPL\" refers to version 3 of the GNU General Public License.", "LGPL-3.0"],
    ["AGPL-3.0", "GNU AFFERO GENERAL PUBLIC LICENSE\n Version 3, 19 November 2007", "AGPL-3.0"],
    ["MPL-2.0", "Mozilla Public License Version 2.0\n==================================", "MPL-2.0"],
    ["MPL-2.0 notice", "This Source Code Form is subject to the terms of the Mozilla Public\nLicense, v. 2.0.", "MPL-2.0"],
    [
      "ISC",
      "Permission to use, copy, modify, and/or distribute this software for any\npurpose with or without fee is hereby granted, provided that the above\ncopyright notice and this permission notice appear in all copies.",
      "ISC",
    ],
    ["0BSD is not ISC", "Permission to use, copy, modify, and/or distribute this software for any\npurpose with or without fee is hereby granted.", undefined],
    ["Unlicense", "This is free and unencumbered software released into the public domain.", "Unlicense"],
    ["CC0-1.0", "Creative Commons Legal Code\n\nCC0 1.0 Universal", "CC0-1.0"],
    ["CC-BY-4.0", "Attribution 4.0 International\n...Creative Commons Attribution 4.0 International Public License", "CC-BY-4.0"],
    ["CC-BY-SA-4.0", "Creative Commons Attribution-ShareAlike 4.0 International Public License", "CC-BY-SA-4.0"],
    ["CC-BY-NC is neither", "Creative Commons Attribution-NonCommercial 4.0 International Public License", undefined],
    ["BSL-1.0", "Boost Software License - Version 1.0 - August 17th, 2003", "BSL-1.0"],
    ["EPL-2.0", "Eclipse Public License - v 2.0\n\nTHE ACCOMPANYING PROGRAM IS PROVIDED", "EPL-2.0"],
    ["Llama 2", "LLAMA 2 COMMUNITY LICENSE AGREEMENT\nLlama 2 Version Release Date: July 18, 2023", "Llama-2"],
    ["Llama 3", "META LLAMA 3 COMMUNITY LICENSE AGREEMENT\nMeta Llama 3 Version Release Date: April 18, 2024", "Llama-3"],
    ["Llama 3.1", "LLAMA 3.1 COMMUNITY LICENSE AGREEMENT", "Llama-3.1"],
    ["dual MIT + Apache", `${MIT}\n\n${APACHE}`, undefined],
    ["unrelated text", "All rights reserved. Do not copy.", undefined],
    ["empty", "", undefined],
    ["phrase split across words does not match", "apache licenses version 2 0", undefined],
  ];
  for (const [name, text, want] of cases) {
    test(name, () => expect(detectLicense(text)).toBe(want));
  }

  test("matchLicenses lists every match", () => {
    expect(matchLicenses(`${MIT}\n${APACHE}`)).toEqual(["MIT", "Apache-2.0"]);
    expect(matchLicenses("GNU GENERAL PUBLIC LICENSE Version 3, 29 June 2007")).toEqual(["GPL-3.0"]);
  });
});
