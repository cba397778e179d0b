// Reads mermaid text on stdin and parses it with mermaid's own parser:
// exits 0 and prints the diagram type when mermaid accepts it as an
// xychart, and non-zero with the parser's message otherwise. mermaid
// sanitizes text with DOMPurify, which needs a DOM: jsdom provides one.
// Nothing is laid out or rendered. Used by reporters/mermaid_test.go.
import { JSDOM } from "jsdom";

const dom = new JSDOM("<!DOCTYPE html><html><body></body></html>");
globalThis.window = dom.window;
globalThis.document = dom.window.document;

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const text = Buffer.concat(chunks).toString("utf8");

const { default: mermaid } = await import("mermaid");
mermaid.initialize({ startOnLoad: false });
try {
  const result = await mermaid.parse(text);
  if (result.diagramType !== "xychart") {
    console.error(`mermaid parsed a ${result.diagramType}, not an xychart`);
    process.exit(2);
  }
  console.log(result.diagramType);
} catch (err) {
  console.error(err?.message ?? String(err));
  process.exit(1);
}
