import { useAnonymousSession } from "anon-sessions-client/react";
import { useState } from "react";
import { ActionsPanel } from "./ActionsPanel";
import { describeError } from "./describe-error";

export function App() {
  const session = useAnonymousSession();
  const [error, setError] = useState<unknown>(null);
  const [deleting, setDeleting] = useState(false);

  const deleteMyData = async () => {
    setDeleting(true);
    setError(null);
    try {
      // The provider starts a fresh session as soon as this one is gone.
      await session.client.deleteMyData();
    } catch (e) {
      setError(e);
    } finally {
      setDeleting(false);
    }
  };

  return (
    <main>
      <h1>Anonymous session demo</h1>
      <p className="lede">
        No sign-up: this browser got an anonymous id and a signed token on its first visit. Reload, or
        open a second tab, and you are still the same visitor.
      </p>

      <section className="card">
        <h2>Your anonymous id</h2>
        {session.status === "loading" && <p data-testid="status">Starting your session…</p>}
        {session.status === "error" && (
          <p role="alert" data-testid="error">
            {describeError(session.error)} <button onClick={session.retry}>Try again</button>
          </p>
        )}
        {session.status === "ready" && (
          <code className="anon-id" data-testid="anon-id">
            {session.anonId}
          </code>
        )}
      </section>

      {session.status === "ready" && (
        <ActionsPanel key={session.anonId} client={session.client} onError={setError} />
      )}

      {error !== null && (
        <p role="alert" className="error" data-testid="error">
          {describeError(error)}
        </p>
      )}

      <section className="card danger">
        <h2>Your data</h2>
        <p>Erase everything recorded for this id. You then start again as a new visitor.</p>
        <button
          data-testid="delete-data"
          disabled={session.status !== "ready" || deleting}
          onClick={deleteMyData}
        >
          {deleting ? "Deleting…" : "Delete my data"}
        </button>
      </section>
    </main>
  );
}
