// A tiny element builder: text always goes in as text (topics and messages are user data).
type Child = Node | string | null | undefined | false;

export function h(tag: string, attrs: Record<string, string | number | boolean | undefined> = {}, ...children: Child[]): HTMLElement {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    element.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    element.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return element;
}

export function bar(percent: number, testid: string, state = ""): HTMLElement {
  const fill = h("div", { class: `fill ${state}`, style: `width: ${Math.max(0, Math.min(100, percent))}%` });
  return h("div", { class: "bar", "data-testid": testid, "data-value": String(percent), role: "progressbar", "aria-valuenow": percent }, fill);
}

export function on(element: HTMLElement, event: string, handler: (e: Event) => void): HTMLElement {
  element.addEventListener(event, handler);
  return element;
}
