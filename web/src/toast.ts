// Short notices in a corner: results of actions and their errors.

import { h } from "./dom";

let region: HTMLElement | null = null;

function host(): HTMLElement {
  if (!region) {
    region = h("div", { class: "toasts", role: "status", "aria-live": "polite", testid: "toasts" });
    document.body.appendChild(region);
  }
  return region;
}

export function toast(message: string, kind: "ok" | "error" | "info" = "ok"): void {
  const el = h("div", { class: `toast toast-${kind}` }, message);
  const close = h("button", { type: "button", class: "toast-close", "aria-label": "Dismiss" }, "×");
  el.appendChild(close);
  const remove = (): void => {
    el.classList.add("toast-leaving");
    window.setTimeout(() => el.remove(), 200);
  };
  close.addEventListener("click", remove);
  const box = host();
  box.appendChild(el);
  while (box.children.length > 4) box.firstElementChild?.remove();
  window.setTimeout(remove, kind === "error" ? 8000 : 4000);
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
