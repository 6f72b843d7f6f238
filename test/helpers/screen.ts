/**
 * A small model of a terminal screen for tests of what kit draws on a terminal (progress bars):
 * feeds the bytes a pseudo-terminal produced and returns the text left on the screen, the way a
 * user sees it after the command. Knows carriage return, line feed, backspace, tab, cursor up/down/
 * left/right/column, erase in display and line, and ignores colours and private modes; any other
 * escape sequence is reported, so a test notices output it does not understand.
 */
export interface Screen {
  /** The screen's lines, trailing spaces removed. */
  lines: string[];
  /** Lines that were wrapped because text went past the last column. */
  wraps: number;
  /** Escape sequences the model does not know. */
  unknown: string[];
}

export function renderScreen(output: string, columns: number): Screen {
  const rows: string[][] = [[]];
  let row = 0;
  let col = 0;
  let pendingWrap = false;
  let wraps = 0;
  const unknown: string[] = [];
  const line = () => (rows[row] ??= []);
  const down = () => {
    row++;
    for (let r = rows.length; r <= row; r++) rows.push([]);
  };
  for (let i = 0; i < output.length; i++) {
    const ch = output[i]!;
    if (ch === "\x1b") {
      const m = /^\x1b\[([?]?)([0-9;]*)([A-Za-z])/.exec(output.slice(i, i + 32));
      if (!m) {
        unknown.push(JSON.stringify(output.slice(i, i + 8)));
        continue;
      }
      i += m[0].length - 1;
      const [, priv, params, final] = m;
      const n = Number(params || "0");
      pendingWrap = false;
      if (priv) continue; // private modes (cursor visibility, wrap): no effect on text
      switch (final) {
        case "A": row = Math.max(0, row - Math.max(1, n)); break;
        case "B": for (let k = 0; k < Math.max(1, n); k++) down(); break;
        case "C": col = Math.min(columns - 1, col + Math.max(1, n)); break;
        case "D": col = Math.max(0, col - Math.max(1, n)); break;
        case "G": col = Math.max(0, Math.min(columns - 1, n - 1)); break;
        case "J":
          if (n === 0) {
            line().length = Math.min(line().length, col);
            rows.length = row + 1;
          } else if (n === 2) {
            for (const r of rows) r.length = 0;
          } else unknown.push(m[0]);
          break;
        case "K":
          if (n === 0) line().length = Math.min(line().length, col);
          else if (n === 2) line().length = 0;
          else unknown.push(m[0]);
          break;
        case "m": break;
        default: unknown.push(JSON.stringify(m[0]));
      }
      continue;
    }
    if (ch === "\r") { col = 0; pendingWrap = false; continue; }
    if (ch === "\n") { down(); pendingWrap = false; continue; }
    if (ch === "\b") { col = Math.max(0, col - 1); pendingWrap = false; continue; }
    if (ch === "\t") { col = Math.min(columns - 1, (Math.floor(col / 8) + 1) * 8); continue; }
    if (ch < " ") continue;
    if (pendingWrap) {
      wraps++;
      down();
      col = 0;
      pendingWrap = false;
    }
    const l = line();
    while (l.length < col) l.push(" ");
    l[col] = ch;
    if (col === columns - 1) pendingWrap = true;
    else col++;
  }
  return { lines: rows.map((r) => r.join("").trimEnd()), wraps, unknown };
}
