//! The KV layout and write rules, over the in-memory KV.

use pollster::block_on;

use super::*;
use crate::kv::memory::MemoryKv;

/// `DATA_TTL_SECONDS`, and the TTL every key is written with (1.5 times).
const TTL: u64 = 30 * 24 * 3600;
const WRITE_TTL: u64 = 45 * 24 * 3600;

fn id() -> AnonId {
    AnonId::parse("3f2504e0-4f89-41d3-9a0c-0305e82c3301").expect("id")
}

fn act(text: &str) -> Action {
    Action::new(text.to_owned()).expect("valid action")
}

fn json(text: &str) -> crate::json::Json {
    crate::json::Json::from_text(text.to_owned()).expect("valid JSON")
}

#[test]
fn keys_follow_the_documented_layout() {
    assert_eq!(record_key(id()), "u:3f2504e0-4f89-41d3-9a0c-0305e82c3301");
    assert_eq!(tombstone_key(id()), "a:3f2504e0-4f89-41d3-9a0c-0305e82c3301:!");
    assert_eq!(actions_prefix(id()), "a:3f2504e0-4f89-41d3-9a0c-0305e82c3301:");
    assert_eq!(
        action_key(id(), 1_795_220_000_123, 0x00ab_cdef),
        "a:3f2504e0-4f89-41d3-9a0c-0305e82c3301:1795220000123-00abcdef"
    );
}

#[test]
fn action_keys_sort_in_time_order_after_the_tombstone() {
    let earlier = action_key(id(), 999_999_999_999, u32::MAX);
    let later = action_key(id(), 1_000_000_000_000, 0);
    assert!(earlier < later);
    assert!(tombstone_key(id()) < action_key(id(), 0, 0));
}

#[test]
fn each_action_is_its_own_key_with_the_action_in_metadata_and_a_ttl() {
    let kv = MemoryKv::default();
    let store = Store::new(&kv, Retention::new(TTL));
    let (key, stored) =
        block_on(store.add_action(id(), &act("click"), None, 1_000, 7)).expect("put");

    let (value, meta, ttl) = kv.entry(&key).expect("written");
    assert_eq!(ttl, WRITE_TTL);
    assert_eq!(meta, Some(json(r#"{"a":"click","t":1000}"#)));
    assert_eq!(serde_json::from_str::<StoredAction>(&value).expect("json"), stored);
    assert_eq!(*kv.ops.borrow(), (0, 1, 0));
}

#[test]
fn the_longest_action_fits_kv_metadata_even_when_every_character_is_escaped() {
    let kv = MemoryKv::default();
    let store = Store::new(&kv, Retention::new(TTL));
    let quotes = "\"".repeat(crate::action::MAX_ACTION_CHARS);
    block_on(store.add_action(id(), &act(&quotes), None, 1_000, 1)).expect("fits in 1024 bytes");
    let emoji = "😀".repeat(crate::action::MAX_ACTION_CHARS);
    block_on(store.add_action(id(), &act(&emoji), None, 1_000, 2)).expect("fits in 1024 bytes");
}

#[test]
fn the_largest_structured_action_the_body_rules_allow_fits_kv_metadata() {
    let kv = MemoryKv::default();
    let store = Store::new(&kv, Retention::new(TTL));
    // An escaped quote in the data is two characters of its JSON text, and
    // each of those is escaped again where the text is stored as a string.
    let data = "\\\"".repeat(215);
    let body = format!(r#"{{"type":"t","data":"{data}"}}"#);
    let new = crate::action_json::parse(Some("application/json"), Some(&body)).expect("fits");
    let at = i64::MAX / 1000;
    block_on(store.add_action(id(), &new.kind, new.data.as_ref(), at, 3)).expect("within 1024");
}

#[test]
fn a_structured_actions_data_rides_in_the_metadata_and_lists_back() {
    let kv = MemoryKv::default();
    let store = Store::new(&kv, Retention::new(TTL));
    let data = json(r#"{"sku":"A-1","qty":2}"#);
    let (key, _) =
        block_on(store.add_action(id(), &act("added"), Some(&data), 1_000, 9)).expect("put");
    let (_, meta, _) = kv.entry(&key).expect("written");
    assert_eq!(meta, Some(json(r#"{"a":"added","t":1000,"d":"{\"sku\":\"A-1\",\"qty\":2}"}"#)));
    let listed = block_on(store.first_actions(id())).expect("list");
    assert_eq!(listed.items[0].1.data, Some(data));
}

#[test]
fn actions_list_oldest_first_in_one_list_call() {
    let kv = MemoryKv::default();
    let store = Store::new(&kv, Retention::new(TTL));
    for (ms, text) in [(3_000, "third"), (1_000, "first"), (2_000, "second")] {
        block_on(store.add_action(id(), &act(text), None, ms, 0)).expect("put");
    }
    kv.reset_ops();

    let actions = block_on(store.first_actions(id())).expect("list");
    assert_eq!(actions.texts(), ["first", "second", "third"]);
    assert!(actions.complete);
    assert_eq!(*kv.ops.borrow(), (0, 0, 1));
}

#[test]
fn another_visitors_actions_are_not_listed() {
    let kv = MemoryKv::default();
    let store = Store::new(&kv, Retention::new(TTL));
    let other = AnonId::parse("3f2504e0-4f89-41d3-9a0c-0305e82c3302").expect("id");
    block_on(store.add_action(other, &act("theirs"), None, 1_000, 0)).expect("put");
    block_on(store.add_action(id(), &act("mine"), None, 1_000, 0)).expect("put");
    assert_eq!(block_on(store.first_actions(id())).expect("list").texts(), ["mine"]);
}

#[test]
fn short_pages_are_followed_up_to_the_call_cap() {
    let kv = MemoryKv::with_page_cap(2);
    let store = Store::new(&kv, Retention::new(TTL));
    for ms in 0..20 {
        block_on(store.add_action(id(), &act(&format!("a{ms}")), None, 1_000 + ms, 0))
            .expect("put");
    }
    kv.reset_ops();

    let actions = block_on(store.first_actions(id())).expect("list");
    assert_eq!(kv.ops.borrow().2, u32::try_from(MAX_LIST_CALLS).unwrap());
    assert_eq!(actions.texts(), ["a0", "a1", "a2", "a3", "a4", "a5", "a6", "a7"]);
    assert!(!actions.complete);
}

#[test]
fn the_first_page_stops_at_its_limit() {
    let kv = MemoryKv::default();
    let store = Store::new(&kv, Retention::new(TTL));
    for ms in 0..1005 {
        block_on(store.add_action(id(), &act("x"), None, 1_000 + ms, 0)).expect("put");
    }
    let actions = block_on(store.first_actions(id())).expect("list");
    assert_eq!(actions.items.len(), FIRST_PAGE_LIMIT);
    assert!(!actions.complete);
}

#[test]
fn a_write_the_listing_has_not_seen_is_included_once() {
    let kv = MemoryKv::lagging();
    let store = Store::new(&kv, Retention::new(TTL));
    block_on(store.add_action(id(), &act("old"), None, 1_000, 0)).expect("put");
    kv.catch_up();
    let (key, stored) = block_on(store.add_action(id(), &act("new"), None, 2_000, 0)).expect("put");

    let mut actions = block_on(store.first_actions(id())).expect("list");
    assert_eq!(actions.texts(), ["old"], "the replica lags");
    actions.include(key.clone(), stored.clone());
    assert_eq!(actions.texts(), ["old", "new"]);

    kv.catch_up();
    let mut caught_up = block_on(store.first_actions(id())).expect("list");
    caught_up.include(key, stored);
    assert_eq!(caught_up.texts(), ["old", "new"], "no duplicate once listed");
}

#[test]
fn a_new_action_is_left_off_a_truncated_page() {
    let mut actions = Actions {
        items: vec![(
            "a:x:0000000001000-00000000".into(),
            StoredAction { action: "a".into(), at_ms: 1000, data: None },
        )],
        complete: false,
        cursor: None,
        erased: false,
    };
    actions.include(
        "a:x:0000000002000-00000000".into(),
        StoredAction { action: "b".into(), at_ms: 2000, data: None },
    );
    assert_eq!(actions.texts(), ["a"]);
}

#[test]
fn foreign_metadata_under_the_prefix_is_skipped() {
    let kv = MemoryKv::default();
    let prefix = actions_prefix(id());
    let bad = json(r#"{"unexpected":true}"#);
    let bad_key = format!("{prefix}0000000000001-00000000");
    block_on(kv.put(Put { key: &bad_key, value: "", metadata: Some(&bad), ttl_seconds: 60 }))
        .expect("put");
    let store = Store::new(&kv, Retention::new(TTL));
    block_on(store.add_action(id(), &act("good"), None, 2_000, 0)).expect("put");
    assert_eq!(block_on(store.first_actions(id())).expect("list").texts(), ["good"]);
}

#[test]
fn the_record_is_created_then_refreshed_at_most_once_a_minute() {
    let new = UserRecord { created_at: 100, last_activity_at: 100, slid_at: 100 };
    assert_eq!(UserRecord::after_activity(None, 100), Some(new));
    assert_eq!(UserRecord::after_activity(Some(new), 159), None);
    assert_eq!(
        UserRecord::after_activity(Some(new), 160),
        Some(UserRecord { last_activity_at: 160, ..new })
    );
    // A clock that went backwards does not rewrite the record.
    assert_eq!(UserRecord::after_activity(Some(new), 10), None);
    // Nor can extreme values overflow.
    let far = UserRecord { created_at: i64::MIN, last_activity_at: i64::MIN, slid_at: 0 };
    assert!(UserRecord::after_activity(Some(far), i64::MAX).is_some());
}

#[test]
fn touching_the_record_costs_one_read_and_writes_only_when_stale() {
    let kv = MemoryKv::default();
    let store = Store::new(&kv, Retention::new(TTL));
    assert_eq!(block_on(store.touch_record(id(), 1_000)).expect("create"), None);
    assert_eq!(*kv.ops.borrow(), (1, 1, 0));
    block_on(store.touch_record(id(), 1_030)).expect("fresh");
    assert_eq!(*kv.ops.borrow(), (2, 1, 0));
    block_on(store.touch_record(id(), 1_060)).expect("stale");
    assert_eq!(*kv.ops.borrow(), (3, 2, 0));

    let (value, _, ttl) = kv.entry(&record_key(id())).expect("record");
    assert_eq!(ttl, WRITE_TTL);
    let record: UserRecord = serde_json::from_str(&value).expect("json");
    assert_eq!(record, UserRecord { created_at: 1_000, last_activity_at: 1_060, slid_at: 1_000 });
}

#[test]
fn a_record_due_a_scan_is_left_for_the_scan_to_write() {
    let kv = MemoryKv::default();
    let store = Store::new(&kv, Retention::new(TTL));
    block_on(store.touch_record(id(), 1_000)).expect("create");
    let margin = Retention::new(TTL).margin();
    kv.reset_ops();
    let due = block_on(store.touch_record(id(), 1_000 + margin)).expect("due");
    assert_eq!(due.map(|r| r.slid_at), Some(1_000));
    assert_eq!(*kv.ops.borrow(), (1, 0, 0), "read, not written");
}

#[test]
fn an_unreadable_record_is_replaced() {
    let kv = MemoryKv::default();
    let key = record_key(id());
    block_on(kv.put(Put { key: &key, value: "not json", metadata: None, ttl_seconds: 60 }))
        .expect("put");
    let store = Store::new(&kv, Retention::new(TTL));
    block_on(store.touch_record(id(), 5_000)).expect("replace");
    let (value, _, _) = kv.entry(&key).expect("record");
    assert_eq!(value, r#"{"created_at":5000,"last_activity_at":5000,"slid_at":5000}"#);
}

#[test]
fn a_record_from_before_sliding_expiration_is_read_and_scanned_at_once() {
    let kv = MemoryKv::default();
    let key = record_key(id());
    let old = r#"{"created_at":5000,"last_activity_at":5000}"#;
    block_on(kv.put(Put { key: &key, value: old, metadata: None, ttl_seconds: 60 })).expect("put");
    let store = Store::new(&kv, Retention::new(TTL));
    let due = block_on(store.touch_record(id(), 1_000_000)).expect("read");
    assert_eq!(due, Some(UserRecord { created_at: 5000, last_activity_at: 5000, slid_at: 0 }));
}

#[test]
fn action_times_strictly_increase_within_an_isolate() {
    let first = action_time(5_000_000_000_000);
    let second = action_time(5_000_000_000_000);
    let third = action_time(4_000_000_000_000);
    assert!(first >= 5_000_000_000_000);
    assert!(second > first && third > second);
}

#[test]
fn the_cap_costs_nothing_for_a_visitor_within_one_page() {
    let kv = MemoryKv::default();
    let store = Store::new(&kv, Retention::new(TTL));
    block_on(store.add_action(id(), &act("a"), None, 1_000, 0)).expect("put");
    let first = block_on(store.first_actions(id())).expect("list");
    kv.reset_ops();
    assert!(!block_on(store.at_capacity(id(), &first)).expect("count"));
    assert_eq!(*kv.ops.borrow(), (0, 0, 0));
}

#[test]
fn the_cap_is_reached_at_exactly_the_limit() {
    let kv = MemoryKv::default();
    let store = Store::new(&kv, Retention::new(TTL));
    let fill = |from: usize, to: usize| {
        for n in from..to {
            let ms = 1_000 + i64::try_from(n).expect("small");
            block_on(store.add_action(id(), &act("x"), None, ms, 0)).expect("put");
        }
    };
    fill(0, MAX_ACTIONS_PER_VISITOR - 1);
    let first = block_on(store.first_actions(id())).expect("list");
    assert!(!block_on(store.at_capacity(id(), &first)).expect("count"));

    fill(MAX_ACTIONS_PER_VISITOR - 1, MAX_ACTIONS_PER_VISITOR);
    let first = block_on(store.first_actions(id())).expect("list");
    kv.reset_ops();
    assert!(block_on(store.at_capacity(id(), &first)).expect("count"));
    assert_eq!(kv.ops.borrow().2, 9, "one list per further 1000 actions");
}

fn fill<K: Kv>(store: &Store<'_, K>, n: usize) {
    for i in 0..n {
        let ms = 1_000_000 + i64::try_from(i).expect("small");
        block_on(store.add_action(id(), &act(&format!("a{i}")), None, ms, 0)).expect("put");
    }
}

#[test]
fn pages_follow_kv_cursors_with_none_missing_or_repeated() {
    let kv = MemoryKv::with_page_cap(7);
    let store = Store::new(&kv, Retention::new(TTL));
    fill(&store, 95);
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut calls = 0;
    loop {
        let page = block_on(store.page(id(), 10, cursor.as_deref())).expect("page");
        assert!(page.items.len() <= 10);
        seen.extend(page.texts());
        calls += 1;
        match page.cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let expected: Vec<String> = (0..95).map(|i| format!("a{i}")).collect();
    assert_eq!(seen, expected);
    assert!(calls >= 10, "short KV pages make short pages");
}

#[test]
fn an_erased_visitor_is_seen_by_the_first_listing_and_by_one_read() {
    let kv = MemoryKv::default();
    let store = Store::new(&kv, Retention::new(TTL));
    fill(&store, 3);
    assert!(!block_on(store.is_erased(id())).expect("get"));
    block_on(store.erase(id(), 2_000, 3600)).expect("erase");

    kv.reset_ops();
    let first = block_on(store.first_actions(id())).expect("list");
    assert!(first.erased && first.items.is_empty());
    assert_eq!(*kv.ops.borrow(), (0, 0, 1), "the listing shows it");
    assert!(block_on(store.is_erased(id())).expect("get"));
    assert!(block_on(store.tally(id())).expect("tally").erased);
}

#[test]
fn erasing_deletes_every_key_but_the_tombstone_and_writes_that_first() {
    let kv = MemoryKv::default();
    let store = Store::new(&kv, Retention::new(TTL));
    fill(&store, 40);
    block_on(store.touch_record(id(), 1_000)).expect("record");
    let other = AnonId::parse("3f2504e0-4f89-41d3-9a0c-0305e82c3302").expect("id");
    block_on(store.add_action(other, &act("theirs"), None, 1, 0)).expect("put");

    let done = block_on(store.erase(id(), 2_000, 3600)).expect("erase");
    assert_eq!(done, Erased { deleted: 40, complete: true });
    assert_eq!(kv.entry(&record_key(id())), None, "the record is gone too");
    let mine: Vec<String> = kv.keys().into_iter().filter(|k| k.contains("0305e82c3301")).collect();
    assert_eq!(mine, [tombstone_key(id())]);
    assert_eq!(kv.entry(&tombstone_key(id())).expect("tombstone").2, 3600);
    assert_eq!(block_on(store.first_actions(other)).expect("list").texts(), ["theirs"]);
}

/// A KV in which another request's writes land the moment the tombstone is
/// written: the request had checked for the tombstone before it existed.
struct RacingKv {
    kv: MemoryKv,
    late: Vec<String>,
}

impl Kv for RacingKv {
    async fn get(&self, key: &str) -> Result<Option<String>, KvError> {
        self.kv.get(key).await
    }

    async fn put(&self, put: Put<'_>) -> Result<(), KvError> {
        let tombstone = put.key.ends_with(":!");
        self.kv.put(put).await?;
        if tombstone {
            for key in &self.late {
                let meta = json(r#"{"a":"late","t":1}"#);
                let put = Put { key, value: meta.get(), metadata: Some(&meta), ttl_seconds: 60 };
                self.kv.put(put).await?;
            }
        }
        Ok(())
    }

    async fn list(
        &self,
        prefix: &str,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<crate::kv::ListPage, KvError> {
        self.kv.list(prefix, limit, cursor).await
    }

    async fn delete(&self, key: &str) -> Result<(), KvError> {
        self.kv.delete(key).await
    }
}

#[test]
fn a_write_that_raced_the_tombstone_is_found_by_a_listing_made_after_it() {
    let late = action_key(id(), 3_000, 7);
    let racing = RacingKv { kv: MemoryKv::default(), late: vec![late.clone(), record_key(id())] };
    let store = Store::new(&racing, Retention::new(TTL));
    fill(&store, 5);

    let done = block_on(store.erase(id(), 2_000, 3600)).expect("erase");
    assert_eq!(done, Erased { deleted: 6, complete: true });
    assert_eq!(racing.kv.entry(&late), None, "the late action is gone");
    assert_eq!(racing.kv.entry(&record_key(id())), None, "and a record written late");
    let mine: Vec<String> =
        racing.kv.keys().into_iter().filter(|k| k.contains("0305e82c3301")).collect();
    assert_eq!(mine, [tombstone_key(id())]);
}

#[test]
fn a_large_visitor_is_erased_over_several_calls_within_the_budget() {
    let kv = MemoryKv::default();
    let store = Store::new(&kv, Retention::new(TTL));
    fill(&store, 2_500);
    let mut calls = Vec::new();
    let mut spent_per_call = Vec::new();
    loop {
        kv.reset_ops();
        let done = block_on(store.erase(id(), 2_000, 3600)).expect("erase");
        let (gets, puts, lists) = *kv.ops.borrow();
        let spent = (gets + puts + lists + kv.deletes.get()) as usize;
        assert!(spent <= ERASE_BUDGET, "{spent} operations");
        spent_per_call.push(spent);
        calls.push(done);
        if done.complete {
            break;
        }
    }
    // The first call spends the budget exactly: one list, the tombstone,
    // the record and 897 action deletes. The second sees the tombstone in
    // its listing and does not write it again.
    assert_eq!(spent_per_call, [ERASE_BUDGET, ERASE_BUDGET - 1, 2 + 706]);
    assert_eq!(calls.len(), 3);
    assert_eq!(calls.iter().map(|c| c.deleted).sum::<usize>(), 2_500);
    assert_eq!(kv.keys(), [tombstone_key(id())]);
}

#[test]
fn a_scan_rewrites_only_stale_keys_and_records_that_it_finished() {
    let kv = MemoryKv::default();
    let retention = Retention::new(TTL);
    let store = Store::new(&kv, retention);
    kv.set_now(1_000);
    fill(&store, 5);
    block_on(store.touch_record(id(), 1_000)).expect("record");
    let later = 1_000 + retention.margin() + 1;
    kv.set_now(later);
    fill_one(&store, "fresh");

    kv.reset_ops();
    let record = block_on(store.record(id())).expect("get").expect("record");
    let slid = block_on(store.slide(id(), record, later)).expect("slide");
    assert_eq!(slid, Slid { rewritten: 5, complete: true });
    let expected_expiration = later + i64::try_from(WRITE_TTL).expect("small");
    for key in kv.keys().iter().filter(|k| k.starts_with("a:")) {
        assert_eq!(kv.expiration(key), Some(expected_expiration), "{key}");
    }
    let record = block_on(store.record(id())).expect("get").expect("record");
    assert_eq!((record.slid_at, record.last_activity_at), (later, later));
}

fn fill_one(store: &Store<'_, MemoryKv>, text: &str) {
    block_on(store.add_action(id(), &act(text), None, 9_000_000, 1)).expect("put");
}

#[test]
fn a_scan_stops_at_its_budget_and_the_next_one_carries_on() {
    let kv = MemoryKv::default();
    let retention = Retention::new(TTL);
    let store = Store::new(&kv, retention);
    fill(&store, SLIDE_BUDGET + 100);
    block_on(store.touch_record(id(), 0)).expect("record");
    let later = retention.margin() + 1;
    kv.set_now(later);

    let record = block_on(store.record(id())).expect("get").expect("record");
    let first = block_on(store.slide(id(), record, later)).expect("slide");
    assert_eq!(first, Slid { rewritten: SLIDE_BUDGET, complete: false });
    let record = block_on(store.record(id())).expect("get").expect("record");
    assert_eq!(record.slid_at, 0, "not finished, so the next activity scans again");

    let second = block_on(store.slide(id(), record, later + 1)).expect("slide");
    assert_eq!(second, Slid { rewritten: 100, complete: true });
}

#[test]
fn an_erased_visitor_is_not_slid() {
    let kv = MemoryKv::default();
    let store = Store::new(&kv, Retention::new(TTL));
    fill(&store, 3);
    block_on(store.erase(id(), 0, 3600)).expect("erase");
    kv.reset_ops();
    let record = UserRecord { created_at: 0, last_activity_at: 0, slid_at: 0 };
    let slid = block_on(store.slide(id(), record, 10_000_000)).expect("slide");
    assert_eq!(slid.rewritten, 0);
    assert_eq!(kv.ops.borrow().1, 0, "nothing written, not even the record");
}
