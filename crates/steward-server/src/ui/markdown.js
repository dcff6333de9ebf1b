// A small Markdown subset for runbooks, built as elements and text nodes
// only (never HTML from the text): headings (#, ##, ###), paragraphs,
// bulleted and numbered lists, fenced code blocks (```), inline `code`,
// **bold**, *emphasis* and [links](https://…) (http and https only; any
// other target stays text). Whatever markup the text holds shows as text.
import { h } from "./lib.js";

// Inline spans of one line: code first (nothing inside it is markup).
export function inline(text) {
  const out = [];
  const pattern = /`([^`]+)`|\*\*([^*]+)\*\*|\*([^*]+)\*|\[([^\]]+)\]\(([^)\s]+)\)/g;
  let last = 0;
  for (const m of text.matchAll(pattern)) {
    if (m.index > last) out.push(text.slice(last, m.index));
    if (m[1] !== undefined) out.push(h("code", {}, m[1]));
    else if (m[2] !== undefined) out.push(h("strong", {}, m[2]));
    else if (m[3] !== undefined) out.push(h("em", {}, m[3]));
    else if (/^https?:\/\//i.test(m[5])) out.push(h("a", { href: m[5], rel: "noopener noreferrer", target: "_blank" }, m[4]));
    else out.push(m[0]);
    last = m.index + m[0].length;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

// The whole body as a list of block elements.
export function markdown(source) {
  const blocks = [];
  const lines = String(source || "").replace(/\r\n?/g, "\n").split("\n");
  let para = [];
  let list = null;
  const flush = () => {
    if (para.length) blocks.push(h("p", {}, inline(para.join(" "))));
    para = [];
    if (list) blocks.push(list);
    list = null;
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.startsWith("```")) {
      flush();
      const code = [];
      for (i++; i < lines.length && !lines[i].startsWith("```"); i++) code.push(lines[i]);
      blocks.push(h("pre", {}, h("code", {}, code.join("\n"))));
      continue;
    }
    const heading = line.match(/^(#{1,3})\s+(.*)$/);
    if (heading) {
      flush();
      blocks.push(h("h" + (heading[1].length + 2), {}, inline(heading[2])));
      continue;
    }
    const item = line.match(/^\s*(?:([-*])|(\d+)[.)])\s+(.*)$/);
    if (item) {
      if (para.length) { blocks.push(h("p", {}, inline(para.join(" ")))); para = []; }
      const tag = item[1] ? "ul" : "ol";
      if (!list || list.tagName.toLowerCase() !== tag) {
        if (list) blocks.push(list);
        list = h(tag, {});
      }
      list.append(h("li", {}, inline(item[3])));
      continue;
    }
    if (!line.trim()) { flush(); continue; }
    if (list) { blocks.push(list); list = null; }
    para.push(line.trim());
  }
  flush();
  return h("div", { class: "markdown" }, blocks);
}
