// Takes the README's pictures of the demo (docs/demo-*.png): `make
// demo-screenshots`. Same server and browser as the tests.

import path from "node:path";
import { launchBrowser } from "./support/browser.mjs";
import { ROOT, startDevServer } from "./support/server.mjs";

const server = await startDevServer();
const browser = await launchBrowser();
try {
  const context = await browser.newContext({ viewport: { width: 760, height: 600 }, deviceScaleFactor: 1 });
  const page = await context.newPage();
  const shot = (name) => page.screenshot({ path: path.join(ROOT, "docs", name), fullPage: true });

  await page.goto(`${server.base}/demo/`);
  await page.getByTestId("anon-id").waitFor();
  await page.getByTestId("no-actions").waitFor();
  const names = ["opened the menu", "viewed pricing", "clicked buy", "chose a plan", "left a review", "shared the page"];
  for (const [i, name] of names.entries()) {
    await page.getByTestId("action-name").fill(name);
    await page.getByTestId("add-action").click();
    await page.getByTestId("action-count").filter({ hasText: new RegExp(`^${i + 1} action`) }).waitFor();
  }
  await page.getByTestId("action-name").fill("clicked buy");
  await shot("demo-session.png");

  await page.getByTestId("next-page").click();
  await page.getByTestId("page-number").filter({ hasText: "Page 2" }).waitFor();
  await shot("demo-paging.png");

  const id = (await page.getByTestId("anon-id").textContent()).trim();
  await page.getByTestId("delete-data").click();
  await page.getByTestId("anon-id").filter({ hasNotText: id }).waitFor();
  await page.getByTestId("no-actions").waitFor();
  await shot("demo-after-delete.png");
  console.log("wrote docs/demo-session.png, docs/demo-paging.png, docs/demo-after-delete.png");
} finally {
  await browser.close();
  await server.stop();
}
