// The API token: kept in sessionStorage (this tab only), asked for with a small form the first
// time an /api call answers 401. Concurrent 401s share one form.

import type { TokenSource } from "./api";
import { h } from "./dom";

const KEY = "relay.token";

function load(): string | null {
  try {
    return sessionStorage.getItem(KEY);
  } catch {
    return null; // storage disabled: keep the token in memory only
  }
}

function save(token: string | null): void {
  try {
    if (token === null) sessionStorage.removeItem(KEY);
    else sessionStorage.setItem(KEY, token);
  } catch {
    /* memory only */
  }
}

export class Auth implements TokenSource {
  private token: string | null = load();
  private pending: Promise<string> | null = null;
  private readonly changeListeners = new Set<() => void>();

  current(): string | null {
    return this.token;
  }

  onChange(fn: () => void): void {
    this.changeListeners.add(fn);
  }

  forget(): void {
    this.token = null;
    save(null);
    for (const fn of this.changeListeners) fn();
  }

  obtain(rejected: string | null): Promise<string> {
    // Someone else already replaced the refused token: retry with the new one at once.
    if (this.token !== null && this.token !== rejected) return Promise.resolve(this.token);
    if (!this.pending) {
      this.pending = this.ask(rejected !== null).then((token) => {
        this.pending = null;
        this.token = token;
        save(token);
        for (const fn of this.changeListeners) fn();
        return token;
      });
    }
    return this.pending;
  }

  private ask(wasRejected: boolean): Promise<string> {
    return new Promise((resolve) => {
      const input = h("input", {
        type: "password",
        name: "token",
        id: "token-input",
        testid: "token-input",
        class: "input",
        autocomplete: "off",
        spellcheck: "false",
        required: true,
        placeholder: "paste the token",
      });
      const error = h(
        "p",
        { class: "token-error", role: "alert" },
        wasRejected ? "That token was not accepted. Check it and try again." : "",
      );
      const form = h(
        "form",
        { class: "token-form", testid: "token-form", "aria-labelledby": "token-title" },
        h("h2", { id: "token-title" }, "Token required"),
        h(
          "p",
          { class: "muted" },
          "This relay server requires an API token (its --token or RELAY_TOKEN). " +
            "It is kept for this browser tab only.",
        ),
        h("label", { for: "token-input", class: "label" }, "API token"),
        input,
        error,
        h("div", { class: "token-actions" }, h("button", { type: "submit", class: "btn btn-primary" }, "Connect")),
      );
      const backdrop = h("div", { class: "modal-backdrop" }, h("div", { class: "modal", role: "dialog", "aria-modal": "true" }, form));
      form.addEventListener("submit", (ev) => {
        ev.preventDefault();
        const value = input.value.trim();
        if (!value) {
          error.textContent = "Enter the token.";
          input.focus();
          return;
        }
        backdrop.remove();
        resolve(value);
      });
      document.body.appendChild(backdrop);
      input.focus();
    });
  }
}
