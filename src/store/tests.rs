//! The KV layout and write rules, over the in-memory KV.

use pollster::block_on;

use super::*;
use crate::kv::memory::MemoryKv;

const TTL: u64 = 30 * 24 * 3600;

fn id() -> AnonId {
    AnonId::parse("3f2504e0-4f89-41d3-9a0c-0305e82c3301").expect("id")
}

fn act(text: &str) -> Action {
    Action::new(text.to_owned()).expect("valid action")
}

#[test]
fn keys_follow_the_documented_layout() {
    assert_eq!(record_key(id()), "u:3f2504e0-4f89-41d3-9a0c-0305e82c3301");
    assert_eq!(actions_prefix(id()), "a:3f2504e0-4f89-41d3-9a0c-0305e82c3301:");
    assert_eq!(
        action_key(id(), 1_795_220_000_123, 0x00ab_cdef),
        "a:3f2504e0-4f89-41d3-9a0c-0305e82c3301:1795220000123-00abcdef"
    );
}

#[test]
fn action_keys_sort_in_time_order() {
    let earlier = action_key(id(), 999_999_999_999, u32::MAX);
    let later = action_key(id(), 1_000_000_000_000, 0);
    assert!(earlier < later);
}

#[test]
fn each_action_is_its_own_key_with_the_action_in_metadata_and_a_ttl() {
    let kv = MemoryKv::default();
    let store = Store::new(&kv, TTL);
    let (key, stored) = block_on(store.add_action(id(), &act("click"), 1_000, 7)).expect("put");

    let (value, meta, ttl) = kv.entry(&key).expect("written");
    assert_eq!(ttl, TTL);
    assert_eq!(meta, Some(serde_json::json!({"a": "click", "t": 1000})));
    assert_eq!(serde_json::from_str::<StoredAction>(&value).expect("json"), stored);
    assert_eq!(*kv.ops.borrow(), (0, 1, 0));
}

#[test]
fn the_longest_action_fits_kv_metadata_even_when_every_character_is_escaped() {
    let kv = MemoryKv::default();
    let store = Store::new(&kv, TTL);
    let quotes = "\"".repeat(crate::action::MAX_ACTION_CHARS);
    block_on(store.add_action(id(), &act(&quotes), 1_000, 1)).expect("fits in 1024 bytes");
    let emoji = "😀".repeat(crate::action::MAX_ACTION_CHARS);
    block_on(store.add_action(id(), &act(&emoji), 1_000, 2)).expect("fits in 1024 bytes");
}

#[test]
fn actions_list_oldest_first_in_one_list_call() {
    let kv = MemoryKv::default();
    let store = Store::new(&kv, TTL);
    for (ms, text) in [(3_000, "third"), (1_000, "first"), (2_000, "second")] {
        block_on(store.add_action(id(), &act(text), ms, 0)).expect("put");
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
    let store = Store::new(&kv, TTL);
    let other = AnonId::parse("3f2504e0-4f89-41d3-9a0c-0305e82c3302").expect("id");
    block_on(store.add_action(other, &act("theirs"), 1_000, 0)).expect("put");
    block_on(store.add_action(id(), &act("mine"), 1_000, 0)).expect("put");
    assert_eq!(block_on(store.first_actions(id())).expect("list").texts(), ["mine"]);
}

#[test]
fn short_pages_are_followed_up_to_the_call_cap() {
    let kv = MemoryKv::with_page_cap(2);
    let store = Store::new(&kv, TTL);
    for ms in 0..20 {
        block_on(store.add_action(id(), &act(&format!("a{ms}")), 1_000 + ms, 0)).expect("put");
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
    let store = Store::new(&kv, TTL);
    for ms in 0..1005 {
        block_on(store.add_action(id(), &act("x"), 1_000 + ms, 0)).expect("put");
    }
    let actions = block_on(store.first_actions(id())).expect("list");
    assert_eq!(actions.items.len(), FIRST_PAGE_LIMIT);
    assert!(!actions.complete);
}

#[test]
fn a_write_the_listing_has_not_seen_is_included_once() {
    let kv = MemoryKv::lagging();
    let store = Store::new(&kv, TTL);
    block_on(store.add_action(id(), &act("old"), 1_000, 0)).expect("put");
    kv.catch_up();
    let (key, stored) = block_on(store.add_action(id(), &act("new"), 2_000, 0)).expect("put");

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
            StoredAction { action: "a".into(), at_ms: 1000 },
        )],
        complete: false,
        cursor: None,
    };
    actions.include(
        "a:x:0000000002000-00000000".into(),
        StoredAction { action: "b".into(), at_ms: 2000 },
    );
    assert_eq!(actions.texts(), ["a"]);
}

#[test]
fn foreign_metadata_under_the_prefix_is_skipped() {
    let kv = MemoryKv::default();
    let prefix = actions_prefix(id());
    let bad = serde_json::json!({"unexpected": true});
    let bad_key = format!("{prefix}0000000000001-00000000");
    block_on(kv.put(Put { key: &bad_key, value: "", metadata: Some(&bad), ttl_seconds: 60 }))
        .expect("put");
    let store = Store::new(&kv, TTL);
    block_on(store.add_action(id(), &act("good"), 2_000, 0)).expect("put");
    assert_eq!(block_on(store.first_actions(id())).expect("list").texts(), ["good"]);
}

#[test]
fn the_record_is_created_then_refreshed_at_most_once_a_minute() {
    assert_eq!(
        UserRecord::after_activity(None, 100),
        Some(UserRecord { created_at: 100, last_activity_at: 100 })
    );
    let record = UserRecord { created_at: 100, last_activity_at: 100 };
    assert_eq!(UserRecord::after_activity(Some(record), 159), None);
    assert_eq!(
        UserRecord::after_activity(Some(record), 160),
        Some(UserRecord { created_at: 100, last_activity_at: 160 })
    );
    // A clock that went backwards does not rewrite the record.
    assert_eq!(UserRecord::after_activity(Some(record), 10), None);
    // Nor can extreme values overflow.
    let far = UserRecord { created_at: i64::MIN, last_activity_at: i64::MIN };
    assert!(UserRecord::after_activity(Some(far), i64::MAX).is_some());
}

#[test]
fn touching_the_record_costs_one_read_and_writes_only_when_stale() {
    let kv = MemoryKv::default();
    let store = Store::new(&kv, TTL);
    block_on(store.touch_record(id(), 1_000)).expect("create");
    assert_eq!(*kv.ops.borrow(), (1, 1, 0));
    block_on(store.touch_record(id(), 1_030)).expect("fresh");
    assert_eq!(*kv.ops.borrow(), (2, 1, 0));
    block_on(store.touch_record(id(), 1_060)).expect("stale");
    assert_eq!(*kv.ops.borrow(), (3, 2, 0));

    let (value, _, ttl) = kv.entry(&record_key(id())).expect("record");
    assert_eq!(ttl, TTL);
    let record: UserRecord = serde_json::from_str(&value).expect("json");
    assert_eq!(record, UserRecord { created_at: 1_000, last_activity_at: 1_060 });
}

#[test]
fn an_unreadable_record_is_replaced() {
    let kv = MemoryKv::default();
    let key = record_key(id());
    block_on(kv.put(Put { key: &key, value: "not json", metadata: None, ttl_seconds: 60 }))
        .expect("put");
    let store = Store::new(&kv, TTL);
    block_on(store.touch_record(id(), 5_000)).expect("replace");
    let (value, _, _) = kv.entry(&key).expect("record");
    assert_eq!(value, r#"{"created_at":5000,"last_activity_at":5000}"#);
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
    let store = Store::new(&kv, TTL);
    block_on(store.add_action(id(), &act("a"), 1_000, 0)).expect("put");
    let first = block_on(store.first_actions(id())).expect("list");
    kv.reset_ops();
    assert!(!block_on(store.at_capacity(id(), &first)).expect("count"));
    assert_eq!(*kv.ops.borrow(), (0, 0, 0));
}

#[test]
fn the_cap_is_reached_at_exactly_the_limit() {
    let kv = MemoryKv::default();
    let store = Store::new(&kv, TTL);
    let fill = |from: usize, to: usize| {
        for n in from..to {
            let ms = 1_000 + i64::try_from(n).expect("small");
            block_on(store.add_action(id(), &act("x"), ms, 0)).expect("put");
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
