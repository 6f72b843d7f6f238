/** Markdown files imported `with { type: "text" }` (embedded in the binary as strings). */
declare module "*.md" {
  const text: string;
  export default text;
}
