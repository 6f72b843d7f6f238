/**
 * The kit dev chat page in a real browser (Debian's chromium driven by playwright-core): the
 * compiled binary serves the tiny model; the page sends a prompt with the settings, shows the
 * answer as it streams, renders Markdown and code, and the stop button cancels a long answer.
 *
 * The random model's output is unreadable, so the test adds kit dev's `grammar` extension to
 * the page's requests (the page itself never sends one) to make the answer known text.
 *
 * A screenshot is taken every run; with KIT_UPDATE_SCREENSHOTS=1 it replaces
 * docs/screenshots/dev-chat.png (the committed one), otherwise it goes to a temp dir, so test
 * runs do not keep rewriting a tracked file whose token rates differ every time.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { chromium, type Browser } from "playwright-core";
import { repoRoot, runKit, tempDir } from "../helpers/kit.ts";
import { writeTinyGguf } from "../helpers/tiny-gguf.ts";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium && process.env.CI) throw new Error(`${CHROMIUM} is missing: .ci/run installs Debian's chromium for this test`);

const ANSWER = [
  "Here is **kit dev** serving a model straight from a *ModelKit*:",
  "",
  "```ts",
  'const r = await client.chat.completions.create({ model: "tiny-chat", messages });',
  "console.log(r.choices[0].message.content);",
  "```",
  "",
  "- tokens stream in as they are generated",
  "- no network access is needed",
].join("\n");

/** An answer with a long code line and a long word, to push the page's width. */
const LAYOUT_ANSWER = [
  "Load it with `kit unpack` and read the weights:",
  "",
  "```python",
  'state = load_file("/home/ada/projects/sentiment-analysis/models/checkpoints/epoch-0042/weights-final.safetensors", device="cpu")',
  "```",
  "",
  "Checkpoint: sentiment-analysis-models-checkpoints-epoch-0042-weights-final-safetensors",
].join("\n");

let home: string;
let base: string;
let browser: Browser;

beforeAll(async () => {
  if (!haveChromium) return;
  home = path.join(tempDir("kit-devui-"), "home");
  const project = tempDir("kit-devui-proj-");
  writeFileSync(path.join(project, "Kitfile"), "manifestVersion: 1.0.0\npackage:\n  name: tiny\nmodel:\n  name: tiny-chat\n  path: tiny-chat.gguf\n");
  writeTinyGguf(path.join(project, "tiny-chat.gguf"));
  const r = await runKit(["dev", "start", project, "--threads", "1"], { env: { KITOPS_HOME: home } });
  expect(r.code).toBe(0);
  base = /Development server started at (\S+)/.exec(r.stdout)![1]!;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-gpu"] });
});

afterAll(async () => {
  await browser?.close();
  if (home) await runKit(["dev", "stop"], { env: { KITOPS_HOME: home } });
});

describe.if(haveChromium)("the chat page in chromium", () => {
  test("send a prompt with settings, watch the answer stream in, rendered; stop a long answer", async () => {
    const page = await browser.newPage({ viewport: { width: 1200, height: 760 } });
    const failed: string[] = [];
    page.on("requestfailed", (r) => failed.push(r.url()));
    page.on("pageerror", (e) => failed.push(`page error: ${e.message}`));
    const external: string[] = [];
    page.on("request", (r) => { if (!r.url().startsWith(base)) external.push(r.url()); });

    // add a grammar to the page's own request; remember what the page sent
    const sent: Array<Record<string, unknown>> = [];
    let grammar = `root ::= ${JSON.stringify(ANSWER)}`;
    await page.route("**/v1/chat/completions", async (route) => {
      const body = JSON.parse(route.request().postData()!);
      sent.push(body);
      await route.continue({ postData: JSON.stringify({ ...body, grammar }) });
    });

    await page.goto(base);
    await page.waitForFunction(() => document.getElementById("status")!.textContent === "Ready");
    expect(await page.textContent("#model-name")).toBe("tiny-chat");
    expect(await page.textContent("#info")).toContain("chat format: ChatML");

    await page.fill("#system", "You are a helpful assistant.");
    await page.fill("#max-tokens", "300");
    await page.locator("#temperature").fill("0.3");

    // record every state the answer passes through while it streams
    await page.evaluate(() => {
      const seen: string[] = [];
      (window as unknown as { seen: string[] }).seen = seen;
      new MutationObserver(() => {
        const c = document.querySelectorAll(".msg.assistant .content");
        const last = c[c.length - 1];
        if (last && seen.at(-1) !== last.textContent) seen.push(last.textContent ?? "");
      }).observe(document.getElementById("messages")!, { childList: true, subtree: true, characterData: true });
    });

    await page.fill("#prompt", "Show me how to call you from code");
    await page.press("#prompt", "Enter");
    await page.waitForSelector(".msg.assistant .tools span:has-text('tokens')");

    expect(sent[0]).toEqual({
      model: "tiny-chat",
      messages: [{ role: "system", content: "You are a helpful assistant." }, { role: "user", content: "Show me how to call you from code" }],
      stream: true,
      stream_options: { include_usage: true },
      temperature: 0.3,
      top_p: 0.95,
      max_tokens: 300,
    });
    const states = await page.evaluate(() => (window as unknown as { seen: string[] }).seen);
    expect(states.length).toBeGreaterThan(2); // it grew piece by piece, not at once

    const answer = page.locator(".msg.assistant .content").last();
    expect(await answer.locator("strong").textContent()).toBe("kit dev");
    expect(await answer.locator("em").textContent()).toBe("ModelKit");
    expect(await answer.locator("pre code").textContent()).toBe(
      'const r = await client.chat.completions.create({ model: "tiny-chat", messages });\nconsole.log(r.choices[0].message.content);',
    );
    expect(await answer.locator("pre .lang").textContent()).toBe("ts");
    expect(await answer.locator("li").allTextContents()).toEqual(["tokens stream in as they are generated", "no network access is needed"]);
    expect(await page.locator(".msg.user .content").textContent()).toBe("Show me how to call you from code");
    expect(await page.isVisible(".msg.assistant .tools button:has-text('Copy')")).toBe(true);

    const shot = await page.screenshot({ fullPage: false });
    expect([...shot.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    const target = process.env.KIT_UPDATE_SCREENSHOTS
      ? path.join(repoRoot, "docs", "screenshots", "dev-chat.png")
      : path.join(tempDir("kit-devui-shot-"), "dev-chat.png");
    mkdirSync(path.dirname(target), { recursive: true });
    writeFileSync(target, shot);

    // a long answer, stopped from the page
    grammar = "root ::= [0-9 ] root"; // never complete: runs until stopped (or the context is full)
    await page.fill("#max-tokens", "");
    await page.fill("#prompt", "Count for a long time");
    await page.press("#prompt", "Enter");
    await page.waitForSelector("#stop:visible");
    await page.click("#stop");
    await page.waitForSelector(".msg.assistant >> nth=1 >> .tools span:has-text('stopped')");
    expect(await page.isVisible("#send")).toBe(true);
    expect(sent[1]!.max_tokens).toBeUndefined();
    expect((sent[1]!.messages as unknown[]).length).toBe(4); // system, user, assistant, user

    // the server lets the stopped generation go and answers the next prompt
    grammar = 'root ::= "Still here."';
    await page.fill("#prompt", "Are you there?");
    await page.press("#prompt", "Enter");
    await page.waitForFunction(() => document.querySelectorAll(".msg.assistant .tools span").length === 3);
    expect(await page.locator(".msg.assistant .content").last().textContent()).toBe("Still here.");

    expect(failed.filter((u) => !u.endsWith("/v1/chat/completions"))).toEqual([]);
    expect(external).toEqual([]);
    await page.close();
  });

  /**
   * The page at a phone's width and a desktop's: nothing is wider than the window (the header,
   * the messages, the input row), the header stays one row, and on the phone the settings open
   * below the header. A long model name, a long word, a long code line and a long error in the
   * status are there to push the layout. Screenshots as above (KIT_UPDATE_SCREENSHOTS=1 replaces
   * docs/screenshots/dev-chat-phone.png and dev-chat-desktop.png).
   */
  for (const [name, width, height] of [["phone", 420, 800], ["desktop", 1280, 800]] as const) {
    test(`${name} (${width} px wide): nothing overflows horizontally; the header stays one row`, async () => {
      const page = await browser.newPage({ viewport: { width, height } });
      await page.route("**/v1/chat/completions", async (route) => {
        const body = JSON.parse(route.request().postData()!);
        await route.continue({ postData: JSON.stringify({ ...body, grammar: `root ::= ${JSON.stringify(LAYOUT_ANSWER)}` }) });
      });
      await page.goto(base);
      await page.waitForFunction(() => document.getElementById("status")!.textContent === "Ready");
      await page.fill("#prompt", "Explain /home/ada/projects/sentiment-analysis/models/checkpoints/epoch-0042/weights-final.safetensors");
      await page.press("#prompt", "Enter");
      await page.waitForSelector(".msg.assistant .tools span:has-text('tokens')");

      const overflow = () =>
        page.evaluate(() => {
          const out: Record<string, { scroll: number; client: number }> = {};
          for (const sel of ["body", "header", "#messages", "form.composer"]) {
            const e = document.querySelector(sel)!;
            out[sel] = { scroll: e.scrollWidth, client: e.clientWidth };
          }
          return out;
        });
      const checkLayout = async () => {
        for (const [sel, m] of Object.entries(await overflow())) expect({ sel, ...m, over: m.scroll > m.client }).toEqual({ sel, ...m, over: false });
        expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(width);
        // every control of the header and the input row is inside the window, on one row
        const header = (await page.locator("header").boundingBox())!;
        for (const sel of ["header h1", "#status", "#new-chat", "#prompt", "#send"]) {
          const box = (await page.locator(sel).boundingBox())!;
          expect({ sel, inside: box.x >= 0 && box.x + box.width <= width }).toEqual({ sel, inside: true });
        }
        for (const sel of ["header h1", "#new-chat"]) {
          const box = (await page.locator(sel).boundingBox())!;
          expect({ sel, oneLine: box.height < 40 }).toEqual({ sel, oneLine: true });
        }
        expect(header.height).toBeLessThan(60);
      };
      await checkLayout();
      // the code block scrolls inside the answer instead of widening the page
      expect(await page.evaluate(() => { const p = document.querySelector(".msg.assistant pre")!; return p.scrollWidth > p.clientWidth; })).toBe(true);

      const shot = await page.screenshot({ fullPage: false });
      const target = process.env.KIT_UPDATE_SCREENSHOTS
        ? path.join(repoRoot, "docs", "screenshots", `dev-chat-${name}.png`)
        : path.join(tempDir("kit-devui-shot-"), `dev-chat-${name}.png`);
      mkdirSync(path.dirname(target), { recursive: true });
      writeFileSync(target, shot);

      // a long load error in the status is cut with an ellipsis (full text in the tooltip)
      await page.evaluate(() => {
        const st = document.getElementById("status")!;
        st.textContent = st.title = "Model failed to load: llama_model_load: error loading model: tensor 'blk.0.attn_q.weight' has wrong shape";
        st.className = "error";
      });
      await checkLayout();

      if (width <= 760) {
        // the settings open over the chat, below the header, as wide as the window
        expect(await page.isVisible("#settings")).toBe(false);
        await page.click("#toggle-settings");
        const aside = (await page.locator("#settings").boundingBox())!;
        const header = (await page.locator("header").boundingBox())!;
        expect(aside.y).toBeGreaterThanOrEqual(header.y + header.height - 1);
        expect([aside.x, aside.width]).toEqual([0, width]);
        expect(await page.getAttribute("#prompt", "placeholder")).toBe("Message the model");
        await checkLayout();
      } else {
        expect(await page.isVisible("#settings")).toBe(true);
        expect(await page.isVisible("#toggle-settings")).toBe(false);
      }
      await page.close();
    });
  }

  test("the committed phone and desktop screenshots are PNGs of those sizes", () => {
    for (const [name, w, h] of [["phone", 420, 800], ["desktop", 1280, 800]] as const) {
      const png = readFileSync(path.join(repoRoot, "docs", "screenshots", `dev-chat-${name}.png`));
      expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
      expect([png.readUInt32BE(16), png.readUInt32BE(20)]).toEqual([w, h]);
    }
  });

  test("the committed screenshot is a PNG of the page", () => {
    const png = readFileSync(path.join(repoRoot, "docs", "screenshots", "dev-chat.png"));
    expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    // IHDR width and height: the viewport above
    expect(png.readUInt32BE(16)).toBe(1200);
    expect(png.readUInt32BE(20)).toBe(760);
  });
});
