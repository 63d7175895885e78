import type { Action, ActionPage, AnonSessionClient, VisitorRecord } from "anon-sessions-client";
import { type FormEvent, useCallback, useEffect, useState } from "react";

/** Small, so that paging shows after a few clicks. */
const PAGE_SIZE = 5;
/** A page may come back empty while more follow; skip at most this many in a row. */
const MAX_EMPTY_PAGES = 5;

interface Props {
  client: AnonSessionClient;
  onError: (error: unknown) => void;
}

function timeOf(action: Action): string {
  return new Date(action.recorded_at_ms).toLocaleTimeString();
}

export function ActionsPanel({ client, onError }: Props) {
  // cursors[i] opens page i; the API pages forwards only, so going back
  // means remembering where each page started.
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const [pageIndex, setPageIndex] = useState(0);
  const [page, setPage] = useState<ActionPage | null>(null);
  const [record, setRecord] = useState<VisitorRecord | null>(null);
  const [name, setName] = useState("clicked buy");
  const [busy, setBusy] = useState(false);

  const load = useCallback(
    async (index: number, cursor: string | null) => {
      let result = await client.listActions({ limit: PAGE_SIZE, cursor });
      for (let hop = 0; hop < MAX_EMPTY_PAGES && result.actions.length === 0 && result.next_cursor; hop++) {
        cursor = result.next_cursor;
        result = await client.listActions({ limit: PAGE_SIZE, cursor });
      }
      setCursors((list) => [...list.slice(0, index), cursor]);
      setPage(result);
      setPageIndex(index);
      setRecord(await client.me());
    },
    [client],
  );

  useEffect(() => {
    load(0, null).catch(onError);
  }, [load, onError]);

  const run = async (task: () => Promise<void>) => {
    setBusy(true);
    onError(null);
    try {
      await task();
    } catch (error) {
      onError(error);
    } finally {
      setBusy(false);
    }
  };

  const add = (event: FormEvent) => {
    event.preventDefault();
    const type = name.trim();
    if (!type) return;
    run(async () => {
      await client.recordAction(type, { page: location.pathname });
      // Oldest first: the new action shows here if this page has room, and
      // otherwise "Next" leads to it.
      await load(pageIndex, cursors[pageIndex] ?? null);
    });
  };

  const next = () => page?.next_cursor && run(() => load(pageIndex + 1, page.next_cursor));
  const previous = () => pageIndex > 0 && run(() => load(pageIndex - 1, cursors[pageIndex - 1] ?? null));

  return (
    <section className="card">
      <h2>Your recorded actions</h2>
      {record && (
        <p className="meta" data-testid="action-count">
          {record.action_count} {record.action_count === 1 ? "action" : "actions"} recorded
          {record.created_at !== null &&
            `, first seen ${new Date(record.created_at * 1000).toLocaleString()}`}
        </p>
      )}
      <form onSubmit={add} className="add">
        <input
          aria-label="Action name"
          data-testid="action-name"
          value={name}
          maxLength={200}
          onChange={(e) => setName(e.target.value)}
        />
        <button type="submit" data-testid="add-action" disabled={busy}>
          Record action
        </button>
      </form>
      {page === null ? (
        <p>Loading…</p>
      ) : page.actions.length === 0 ? (
        <p data-testid="no-actions">Nothing recorded yet.</p>
      ) : (
        <ol start={pageIndex * PAGE_SIZE + 1} data-testid="actions">
          {page.actions.map((action) => (
            <li key={action.id} data-testid="action">
              {/* Rendered as text: actions are visitor input. */}
              <bdi className="type">{action.type}</bdi> <time>{timeOf(action)}</time>
            </li>
          ))}
        </ol>
      )}
      <nav className="pager">
        <button data-testid="previous-page" disabled={busy || pageIndex === 0} onClick={previous}>
          ← Previous
        </button>
        <span data-testid="page-number">Page {pageIndex + 1}</span>
        <button data-testid="next-page" disabled={busy || !page?.next_cursor} onClick={next}>
          Next →
        </button>
      </nav>
    </section>
  );
}
