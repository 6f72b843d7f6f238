/**
 * The chat page, embedded in the binary as text (`with { type: "text" }` works in Bun, in the
 * compiled binary and in Deno). It is one self-contained HTML file: inline CSS and script, no
 * fonts, CDNs or other external resources (the app also serves it with a CSP forbidding them).
 * @module
 */
import page from "./ui/chat.html" with { type: "text" };

/** The page's HTML. (Bun's types describe `.html` imports as HTML bundles; as text it is a string.) */
export const CHAT_PAGE: string = page as unknown as string;
