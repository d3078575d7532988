//! The event log conformance suite: every scenario runs against PostgreSQL and SQLite.
//!
//! Scenarios live in modules by what they exercise; each is an `async fn(TestStore)`,
//! and the `conformance!` list at the bottom runs every one of them on both backends
//! (as `postgres::<scenario>` and `sqlite::<scenario>`).

mod appends;
mod decoding;
mod group_commit;
mod inbox;
mod outbox;
mod parking;
mod projections;
mod replay;
mod replies;
mod shelves;
mod snapshots;

use oms_eventsourcing::testing::{TestBackend, TestStore};

macro_rules! conformance {
    ($($topic:ident :: $scenario:ident),+ $(,)?) => {
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    crate::$topic::$scenario(crate::TestStore::new(crate::TestBackend::Postgres).await).await;
                }
            )+
        }
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    crate::$topic::$scenario(crate::TestStore::new(crate::TestBackend::Sqlite).await).await;
                }
            )+
        }
    };
}

conformance!(
    appends::concurrent_appends_have_one_winner_per_version,
    appends::a_conflicting_batch_writes_nothing,
    group_commit::group_commit_answers_each_command,
    replay::replay_equals_live,
    replay::the_digest_at_rest_equals_a_replay_up_to_its_position,
    snapshots::snapshot_plus_tail_equals_full_replay,
    snapshots::stale_or_unreadable_snapshots_are_ignored,
    decoding::old_event_versions_are_upcast_on_read,
    decoding::a_corrupt_or_unknown_event_names_its_stream_and_version,
    outbox::the_outbox_never_skips_a_row_committed_late,
    inbox::the_inbox_absorbs_redelivered_messages,
    replies::an_idempotent_retry_returns_the_first_answer,
    appends::a_foreign_append_is_a_conflict_and_the_state_is_reloaded,
    appends::a_stream_can_be_read_as_of_a_past_time,
    replay::a_long_log_replays_in_order,
    group_commit::a_group_of_commands_commits_together_or_not_at_all,
    parking::parked_messages_wait_until_applied,
    group_commit::a_batch_behind_a_failed_one_cannot_get_ahead_of_it,
    projections::projection_rows_are_upserted_with_the_batch,
    inbox::an_offset_checkpoint_keeps_the_fingerprint_of_its_message,
    outbox::the_outbox_rows_after_a_cursor_are_counted,
);
