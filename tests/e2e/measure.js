// What a reader sees of dms_magic's views: for every visible text node under the views (selector),
// its WCAG contrast against its effective background, and the alignment of every table cell.
// Effective background: the element's own background and its ancestors', composited from the first
// opaque one up (alpha blending), over the page's background; a text colour with alpha and the
// ancestors' opacity are blended over that background too.
(selector) => {
  const parse = (css) => {
    const m = /rgba?\(([^)]+)\)/.exec(css || "");
    if (!m) return null;
    const p = m[1].split(/[\s,\/]+/).filter(Boolean).map(Number);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  };
  const over = (top, bottom) => {
    const a = top[3];
    return [0, 1, 2].map(i => top[i] * a + bottom[i] * (1 - a)).concat([1]);
  };
  const pageBackground = () => {
    for (const el of [document.querySelector(".jp-NotebookPanel-notebook"), document.body, document.documentElement]) {
      const c = el && parse(getComputedStyle(el).backgroundColor);
      if (c && c[3] >= 1) return c;
    }
    return [255, 255, 255, 1];
  };
  const base = pageBackground();
  const background = (el) => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c && c[3] > 0) {
        layers.push(c);
        if (c[3] >= 1) break;
      }
    }
    let bg = base;
    for (let i = layers.length - 1; i >= 0; i--) bg = over(layers[i], bg);
    return bg;
  };
  const opacity = (el) => {
    let o = 1;
    for (let e = el; e; e = e.parentElement) o *= parseFloat(getComputedStyle(e).opacity || "1");
    return o;
  };
  const channel = (v) => {
    v /= 255;
    return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
  };
  const luminance = (c) => 0.2126 * channel(c[0]) + 0.7152 * channel(c[1]) + 0.0722 * channel(c[2]);
  const contrast = (a, b) => {
    const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
    return (hi + 0.05) / (lo + 0.05);
  };
  const hex = (c) => "#" + c.slice(0, 3).map(v => Math.round(v).toString(16).padStart(2, "0")).join("");
  const roots = [...document.querySelectorAll(selector)].filter(r => !r.parentElement.closest(selector));
  const texts = [];
  const cells = [];
  for (const root of roots) {
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const text = node.textContent.trim();
      const el = node.parentElement;
      if (!text || !el || el.closest("script, style, textarea, option, select")) continue;
      if (!el.checkVisibility({ visibilityProperty: true }) || !el.getClientRects().length) continue;
      const bg = background(el);
      let fg = parse(getComputedStyle(el).color);
      fg = over([fg[0], fg[1], fg[2], fg[3] * opacity(el)], bg);
      texts.push({ text: text.slice(0, 40), ratio: Math.round(contrast(fg, bg) * 100) / 100,
                   fg: hex(fg), bg: hex(bg), root: root.className.split(" ")[0] });
    }
    for (const cell of root.querySelectorAll("td, th")) {
      if (!cell.innerText.trim() || !cell.getClientRects().length) continue;
      cells.push({ text: cell.innerText.trim().slice(0, 40), align: getComputedStyle(cell).textAlign,
                   root: root.className.split(" ")[0] });
    }
  }
  return { roots: roots.length, texts, cells };
}
