//! The contract's form of a value store fulfilment speaks of that the kernel does not
//! read: a priority as routing ranks it in a fulfilment request, and as the jobs store
//! fulfilment announces and answers carry it (0 normal, 1 high, 2 urgent).

use oms_proto::kernel::Priority;

/// What a rank must be, for a refusal.
pub const PRIORITY_RANKS: &str = "must be 0 (normal), 1 (high) or 2 (urgent)";

/// The priority routing ranked `rank`; `None` for a rank the contract does not have.
pub fn priority_of_rank(rank: i32) -> Option<Priority> {
    match rank {
        0 => Some(Priority::Normal),
        1 => Some(Priority::High),
        2 => Some(Priority::Urgent),
        _ => None,
    }
}

pub fn priority_rank(priority: Priority) -> i32 {
    match priority {
        Priority::Normal => 0,
        Priority::High => 1,
        Priority::Urgent => 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_priority_keeps_its_rank_and_an_unknown_rank_is_none() {
        for priority in Priority::ALL {
            assert_eq!(priority_of_rank(priority_rank(*priority)), Some(*priority));
        }
        assert_eq!(priority_of_rank(3), None);
        assert_eq!(priority_of_rank(-1), None);
    }
}
