// Dark and light themes: follows prefers-color-scheme until the person picks one with the
// toggle (system → light → dark → system), remembered in localStorage.

import { ICONS, clear, h, icon } from "./dom";

export type ThemeMode = "system" | "light" | "dark";
const KEY = "relay.theme";
const ORDER: ThemeMode[] = ["system", "light", "dark"];

function stored(): ThemeMode {
  try {
    const v = localStorage.getItem(KEY);
    return v === "light" || v === "dark" ? v : "system";
  } catch {
    return "system";
  }
}

export class Theme {
  private mode: ThemeMode = stored();
  private readonly media = window.matchMedia("(prefers-color-scheme: dark)");
  private readonly listeners = new Set<() => void>();
  readonly button: HTMLButtonElement;

  constructor() {
    this.button = h("button", { type: "button", class: "btn btn-icon", testid: "theme-toggle" });
    this.button.addEventListener("click", () => {
      const next = ORDER[(ORDER.indexOf(this.mode) + 1) % ORDER.length] ?? "system";
      this.set(next);
    });
    this.media.addEventListener("change", () => {
      if (this.mode === "system") this.apply();
    });
    this.apply();
  }

  get resolved(): "light" | "dark" {
    if (this.mode === "system") return this.media.matches ? "dark" : "light";
    return this.mode;
  }

  onChange(fn: () => void): void {
    this.listeners.add(fn);
  }

  set(mode: ThemeMode): void {
    this.mode = mode;
    try {
      if (mode === "system") localStorage.removeItem(KEY);
      else localStorage.setItem(KEY, mode);
    } catch {
      /* not remembered */
    }
    this.apply();
  }

  private apply(): void {
    const resolved = this.resolved;
    document.documentElement.setAttribute("data-theme", resolved);
    const label =
      this.mode === "system" ? `Theme: system (${resolved}). Click for light.` : this.mode === "light" ? "Theme: light. Click for dark." : "Theme: dark. Click to follow the system.";
    this.button.setAttribute("title", label);
    this.button.setAttribute("aria-label", label);
    clear(this.button);
    this.button.appendChild(icon([...(this.mode === "system" ? ICONS.auto : this.mode === "light" ? ICONS.sun : ICONS.moon)]));
    for (const fn of this.listeners) fn();
  }
}
