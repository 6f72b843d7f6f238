/**
 * The chat page's Markdown renderer, taken from the page itself (between its `// ---- markdown`
 * markers) so the test runs exactly the code the browser runs.
 */
import { describe, expect, test } from "bun:test";
import { CHAT_PAGE } from "../../src/dev/page.ts";

const start = CHAT_PAGE.indexOf("// ---- markdown ----");
const end = CHAT_PAGE.indexOf("// ---- end markdown ----");
const renderMarkdown = new Function(`${CHAT_PAGE.slice(start, end)}\nreturn renderMarkdown;`)() as (s: string) => string;

describe("renderMarkdown", () => {
  test("found in the page", () => {
    expect(start).toBeGreaterThan(0);
    expect(end).toBeGreaterThan(start);
  });

  test("HTML in model output is escaped everywhere", () => {
    expect(renderMarkdown(`<img src=x onerror="alert(1)"> & 'q'`)).toBe("<p>&lt;img src=x onerror=&quot;alert(1)&quot;&gt; &amp; &#39;q&#39;</p>");
    expect(renderMarkdown("# <b>t</b>")).toBe("<h1>&lt;b&gt;t&lt;/b&gt;</h1>");
    expect(renderMarkdown("- <script>x</script>")).toBe("<ul><li>&lt;script&gt;x&lt;/script&gt;</li></ul>");
    expect(renderMarkdown("`<b>`")).toBe("<p><code>&lt;b&gt;</code></p>");
    expect(renderMarkdown("```html\n<script>alert(1)</script>\n```")).toBe(
      '<pre><span class="lang">html</span><button type="button" class="copy-code">Copy</button><code>&lt;script&gt;alert(1)&lt;/script&gt;</code></pre>',
    );
    expect(renderMarkdown('```"><img>\nx\n```')).toBe('<pre><button type="button" class="copy-code">Copy</button><code>x</code></pre>');
  });

  test("links: only http(s) and mailto become links", () => {
    expect(renderMarkdown("[kit](https://kitops.org/docs?a=1&b=2)")).toBe(
      '<p><a href="https://kitops.org/docs?a=1&amp;b=2" target="_blank" rel="noopener noreferrer">kit</a></p>',
    );
    expect(renderMarkdown("[x](javascript:alert(1))")).toBe("<p>[x](javascript:alert(1))</p>");
    expect(renderMarkdown('[x](https://a.b/"onmouseover="y)')).toBe(
      '<p><a href="https://a.b/&quot;onmouseover=&quot;y" target="_blank" rel="noopener noreferrer">x</a></p>',
    );
  });

  test("inline styles", () => {
    expect(renderMarkdown("**bold** and *it* and _it2_ and ~~gone~~ and `co*de*`")).toBe(
      "<p><strong>bold</strong> and <em>it</em> and <em>it2</em> and <del>gone</del> and <code>co*de*</code></p>",
    );
    expect(renderMarkdown("2 * 3 * 4 and snake_case_name")).toBe("<p>2 * 3 * 4 and snake_case_name</p>");
  });

  test("blocks: headings, lists, quotes, rules, paragraphs with line breaks", () => {
    expect(renderMarkdown("## Title\n\nline one\nline two\n\n- a\n- b\n  more b\n\n3. x\n4. y\n\n> quoted *text*\n\n---")).toBe(
      [
        "<h2>Title</h2>",
        "<p>line one<br>line two</p>",
        "<ul><li>a</li><li>b<br>more b</li></ul>",
        '<ol start="3"><li>x</li><li>y</li></ol>',
        "<blockquote><p>quoted <em>text</em></p></blockquote>",
        "<hr>",
      ].join("\n"),
    );
  });

  test("an unterminated fence (still streaming) renders as code", () => {
    expect(renderMarkdown("Here:\n```ts\nconst a = 1;\nconst b")).toBe(
      '<p>Here:</p>\n<pre><span class="lang">ts</span><button type="button" class="copy-code">Copy</button><code>const a = 1;\nconst b</code></pre>',
    );
  });
});
