// @vitest-environment happy-dom
// The provider starts a session, re-renders on changes, and starts a fresh
// one after "delete my data".

import { act } from "react";
import { createRoot } from "react-dom/client";
import { afterEach, describe, expect, it } from "vitest";
import { AnonSessionClient } from "../src/index.js";
import { AnonSessionProvider, useAnonymousSession } from "../src/react.js";
import { fakeWorker } from "./fake-worker.js";

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

let cleanup: (() => void) | undefined;
afterEach(() => cleanup?.());

function Shows() {
  const { status, anonId, error } = useAnonymousSession();
  return <p id="out">{status === "error" ? `error: ${(error as Error).name}` : `${status} ${anonId ?? ""}`}</p>;
}

async function render(ui: React.ReactNode) {
  const host = document.createElement("div");
  document.body.append(host);
  const root = createRoot(host);
  await act(async () => root.render(ui));
  cleanup = () => {
    act(() => root.unmount());
    host.remove();
  };
  return () => host.querySelector("#out")?.textContent;
}

/** Lets the client's promises and React's updates settle. */
const settle = () => act(async () => new Promise((resolve) => setTimeout(resolve, 0)));

describe("React", () => {
  it("useAnonymousSession shows loading, then the one session minted even under StrictMode", async () => {
    const worker = fakeWorker();
    const { StrictMode } = await import("react");
    const text = await render(
      <StrictMode>
        <AnonSessionProvider fetch={worker.fetch} storage="memory">
          <Shows />
          <Shows />
        </AnonSessionProvider>
      </StrictMode>,
    );
    await settle();

    expect(text()).toMatch(/^ready 00000000-0000-4000-8000-000000000001$/);
    expect(worker.count("POST", "/anon/login")).toBe(1);
  });

  it("after deleteMyData the provider starts and shows a fresh session", async () => {
    const worker = fakeWorker();
    const client = new AnonSessionClient({ fetch: worker.fetch, storage: "memory" });
    const text = await render(
      <AnonSessionProvider client={client}>
        <Shows />
      </AnonSessionProvider>,
    );
    await settle();
    const first = text();

    await act(async () => {
      await client.deleteMyData();
    });
    await settle();

    expect(first).toBe("ready 00000000-0000-4000-8000-000000000001");
    expect(text()).toBe("ready 00000000-0000-4000-8000-000000000002");
  });

  it("a failed start shows the typed error, and retry recovers", async () => {
    const worker = fakeWorker();
    let offline = true;
    worker.intercept = () => {
      if (offline) throw new TypeError("Failed to fetch");
      return undefined;
    };
    let retry: () => void = () => {};
    function Retry() {
      retry = useAnonymousSession().retry;
      return null;
    }
    const text = await render(
      <AnonSessionProvider fetch={worker.fetch} storage="memory">
        <Shows />
        <Retry />
      </AnonSessionProvider>,
    );
    await settle();
    expect(text()).toBe("error: NetworkError");

    offline = false;
    await act(async () => retry());
    await settle();
    expect(text()).toBe("ready 00000000-0000-4000-8000-000000000001");
  });

  it("the hook outside a provider says so", async () => {
    const original = console.error;
    console.error = () => {};
    try {
      await expect(render(<Shows />)).rejects.toThrow(/inside <AnonSessionProvider>/);
    } finally {
      console.error = original;
      cleanup = undefined;
    }
  });
});
