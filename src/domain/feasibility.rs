//! Can one person keep every promised arrival window of their day?
//!
//! Each visit has a promised arrival window `[start, end]` and an expected
//! duration; between two consecutive visits the person needs a travel buffer.
//! An arrival is on time when it falls inside its window, and arriving early
//! means waiting until the window opens (arriving before the window is not a
//! kept promise either).
//!
//! The question is single-machine sequencing with release times and
//! deadlines, which is NP-hard in general, but a person's day holds few
//! visits. We answer it exactly with a dynamic programme over subsets:
//! for every set of visits done so far we keep the earliest moment the last
//! one can be finished. That state dominates every other ordering of the same
//! set, because what remains possible depends only on when we are free again.
//! Visits are first split into independent clusters (windows that cannot
//! interact), so the exponential part only sees visits that overlap in time.

/// One visit as the scheduler sees it. Times are seconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot<Id> {
    pub id: Id,
    pub window_start: i64,
    pub window_end: i64,
    pub duration_secs: i64,
}

/// The largest cluster of mutually reachable visits we search exactly.
/// 2^20 states is a few megabytes and a few milliseconds; a person whose
/// visits chain together beyond this is not a day anyone can promise.
pub const MAX_CLUSTER: usize = 20;

/// Why a set of visits cannot all be kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Infeasible<Id> {
    /// No order keeps every window; these are the visits that compete.
    NoOrder { conflicting: Vec<Id> },
    /// Too many visits chain together to verify (more than [`MAX_CLUSTER`]).
    TooMany { count: usize },
}

/// A feasible order: visit ids with their planned arrival times.
pub type Plan<Id> = Vec<(Id, i64)>;

/// Checks that every window can be kept with `buffer_secs` between visits,
/// returning one feasible plan (ordered by arrival) or why there is none.
pub fn check<Id: Copy>(slots: &[Slot<Id>], buffer_secs: i64) -> Result<Plan<Id>, Infeasible<Id>> {
    let mut sorted: Vec<Slot<Id>> = slots.to_vec();
    sorted.sort_by_key(|s| (s.window_start, s.window_end));
    let mut plan = Vec::with_capacity(sorted.len());
    for cluster in clusters(&sorted, buffer_secs) {
        if cluster.len() > MAX_CLUSTER {
            return Err(Infeasible::TooMany { count: cluster.len() });
        }
        match solve_cluster(cluster, buffer_secs) {
            Some(p) => plan.extend(p),
            None => return Err(Infeasible::NoOrder { conflicting: cluster.iter().map(|s| s.id).collect() }),
        }
    }
    Ok(plan)
}

/// Splits visits (sorted by window start) into groups that cannot affect each
/// other: a later group starts after every visit of the earlier group could
/// have finished, buffer included, even if it arrived at the end of its window.
fn clusters<Id>(sorted: &[Slot<Id>], buffer_secs: i64) -> Vec<&[Slot<Id>]> {
    let mut out = Vec::new();
    let mut begin = 0;
    let mut reach = i64::MIN;
    for (i, s) in sorted.iter().enumerate() {
        if i > begin && s.window_start >= reach {
            out.push(&sorted[begin..i]);
            begin = i;
            reach = i64::MIN;
        }
        let latest_free = s.window_end.saturating_add(s.duration_secs).saturating_add(buffer_secs);
        reach = reach.max(latest_free);
    }
    if begin < sorted.len() {
        out.push(&sorted[begin..]);
    }
    out
}

/// The visits that can interact with `target` (its cluster), with the
/// earliest window start and the latest possible finish-plus-buffer among
/// them. Callers that load visits by date range use these bounds to tell
/// whether an unloaded visit could still belong to the cluster.
pub fn cluster_around<Id: Copy + PartialEq>(
    slots: &[Slot<Id>],
    buffer_secs: i64,
    target: Id,
) -> (Vec<Slot<Id>>, i64, i64) {
    let mut sorted: Vec<Slot<Id>> = slots.to_vec();
    sorted.sort_by_key(|s| (s.window_start, s.window_end));
    for cluster in clusters(&sorted, buffer_secs) {
        if cluster.iter().any(|s| s.id == target) {
            let first = cluster.iter().map(|s| s.window_start).min().unwrap_or(i64::MIN);
            let reach = cluster
                .iter()
                .map(|s| s.window_end.saturating_add(s.duration_secs).saturating_add(buffer_secs))
                .max()
                .unwrap_or(i64::MAX);
            return (cluster.to_vec(), first, reach);
        }
    }
    (Vec::new(), i64::MIN, i64::MAX)
}

/// Given an infeasible set, the members (other than `keep`) whose removal
/// alone makes it feasible: the visits worth naming in a conflict. Empty when
/// no single removal helps.
pub fn blockers<Id: Copy + PartialEq>(slots: &[Slot<Id>], buffer_secs: i64, keep: Id) -> Vec<Id> {
    slots
        .iter()
        .filter(|s| s.id != keep)
        .filter(|s| {
            let rest: Vec<Slot<Id>> = slots.iter().filter(|o| o.id != s.id).copied().collect();
            check(&rest, buffer_secs).is_ok()
        })
        .map(|s| s.id)
        .collect()
}

fn solve_cluster<Id: Copy>(cluster: &[Slot<Id>], buffer_secs: i64) -> Option<Plan<Id>> {
    let n = cluster.len();
    if n == 0 {
        return Some(Vec::new());
    }
    let full = (1usize << n) - 1;
    // finish[mask]: earliest time the last visit of `mask` is done (i64::MAX = unreachable).
    let mut finish = vec![i64::MAX; 1 << n];
    // Which visit was done last to reach `mask` at that time, to rebuild the plan.
    let mut last = vec![u8::MAX; 1 << n];
    finish[0] = i64::MIN;
    for mask in 0..full {
        let free = finish[mask];
        if free == i64::MAX {
            continue;
        }
        for (j, s) in cluster.iter().enumerate() {
            if mask & (1 << j) != 0 {
                continue;
            }
            let ready = if mask == 0 { i64::MIN } else { free.saturating_add(buffer_secs) };
            let arrive = ready.max(s.window_start);
            if arrive > s.window_end {
                continue;
            }
            let done = arrive.saturating_add(s.duration_secs);
            let next = mask | (1 << j);
            if done < finish[next] {
                finish[next] = done;
                last[next] = j as u8;
            }
        }
    }
    if finish[full] == i64::MAX {
        return None;
    }
    // Walk back to recover the order, then recompute arrival times forward.
    let mut order = Vec::with_capacity(n);
    let mut mask = full;
    while mask != 0 {
        let j = last[mask] as usize;
        order.push(j);
        mask &= !(1 << j);
    }
    order.reverse();
    let mut plan = Vec::with_capacity(n);
    let mut free: Option<i64> = None;
    for j in order {
        let s = &cluster[j];
        let arrive = match free {
            None => s.window_start,
            Some(f) => (f + buffer_secs).max(s.window_start),
        };
        plan.push((s.id, arrive));
        free = Some(arrive + s.duration_secs);
    }
    Some(plan)
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3600;
    const M: i64 = 60;

    fn slot(id: u32, start_h: f64, end_h: f64, dur_min: i64) -> Slot<u32> {
        Slot {
            id,
            window_start: (start_h * H as f64) as i64,
            window_end: (end_h * H as f64) as i64,
            duration_secs: dur_min * M,
        }
    }

    /// Brute force over every permutation: the reference the DP must agree with.
    fn brute(slots: &[Slot<u32>], buffer: i64) -> bool {
        fn go(rest: &mut Vec<Slot<u32>>, free: Option<i64>, buffer: i64) -> bool {
            if rest.is_empty() {
                return true;
            }
            for i in 0..rest.len() {
                let s = rest[i];
                let arrive = match free {
                    None => s.window_start,
                    Some(f) => (f + buffer).max(s.window_start),
                };
                if arrive <= s.window_end {
                    rest.remove(i);
                    let ok = go(rest, Some(arrive + s.duration_secs), buffer);
                    rest.insert(i, s);
                    if ok {
                        return true;
                    }
                }
            }
            false
        }
        go(&mut slots.to_vec(), None, buffer)
    }

    fn plan_is_valid(slots: &[Slot<u32>], plan: &Plan<u32>, buffer: i64) -> bool {
        if plan.len() != slots.len() {
            return false;
        }
        let mut free: Option<i64> = None;
        for (id, arrive) in plan {
            let s = slots.iter().find(|s| s.id == *id).unwrap();
            if *arrive < s.window_start || *arrive > s.window_end {
                return false;
            }
            if let Some(f) = free {
                if *arrive < f + buffer {
                    return false;
                }
            }
            free = Some(arrive + s.duration_secs);
        }
        true
    }

    #[test]
    fn an_empty_day_is_feasible() {
        assert_eq!(check::<u32>(&[], 30 * M), Ok(vec![]));
    }

    #[test]
    fn two_back_to_back_windows_fit_with_the_buffer() {
        // 9-11 for 60 min, then 10:30-12:00: arrive 9:00, done 10:00, +30 buffer -> 10:30.
        let slots = [slot(1, 9.0, 11.0, 60), slot(2, 10.5, 12.0, 60)];
        let plan = check(&slots, 30 * M).unwrap();
        assert_eq!(plan, vec![(1, 9 * H), (2, 10 * H + 30 * M)]);
    }

    #[test]
    fn the_same_narrow_window_twice_is_refused() {
        let slots = [slot(1, 9.0, 9.5, 60), slot(2, 9.0, 9.5, 60)];
        assert_eq!(check(&slots, 30 * M), Err(Infeasible::NoOrder { conflicting: vec![1, 2] }));
    }

    #[test]
    fn the_buffer_makes_the_difference() {
        // Done at 10:00; the second window closes at 10:15.
        let slots = [slot(1, 9.0, 9.0, 60), slot(2, 10.0, 10.25, 30)];
        assert!(check(&slots, 15 * M).is_ok());
        assert!(check(&slots, 16 * M).is_err());
    }

    #[test]
    fn an_order_that_is_not_by_window_start_is_found() {
        // Earliest-start-first fails (1 then 2 misses 2's window); 2 then 1 works.
        let slots = [slot(1, 8.0, 12.0, 60), slot(2, 8.5, 8.5, 60)];
        let plan = check(&slots, 30 * M).unwrap();
        assert_eq!(plan.iter().map(|p| p.0).collect::<Vec<_>>(), vec![2, 1]);
        assert!(plan_is_valid(&slots, &plan, 30 * M));
    }

    #[test]
    fn waiting_for_a_window_to_open_is_allowed() {
        let slots = [slot(1, 8.0, 8.0, 30), slot(2, 14.0, 15.0, 30)];
        assert_eq!(check(&slots, 30 * M).unwrap(), vec![(1, 8 * H), (2, 14 * H)]);
    }

    #[test]
    fn only_the_competing_cluster_is_named() {
        let slots = [slot(1, 8.0, 9.0, 30), slot(2, 13.0, 13.0, 90), slot(3, 13.5, 13.5, 30)];
        assert_eq!(check(&slots, 30 * M), Err(Infeasible::NoOrder { conflicting: vec![2, 3] }));
    }

    #[test]
    fn a_chain_longer_than_the_limit_is_reported_not_searched() {
        let slots: Vec<_> = (0..(MAX_CLUSTER as u32 + 1)).map(|i| slot(i, 8.0, 20.0, 10)).collect();
        assert_eq!(check(&slots, 0), Err(Infeasible::TooMany { count: MAX_CLUSTER + 1 }));
    }

    #[test]
    fn twenty_visits_in_one_cluster_are_solved() {
        // 20 visits of 20 min with 10 min buffer in a 10-hour window: exactly fits.
        let slots: Vec<_> = (0..20u32).map(|i| slot(i, 8.0, 8.0 + 9.5, 20)).collect();
        let plan = check(&slots, 10 * M).unwrap();
        assert!(plan_is_valid(&slots, &plan, 10 * M));
    }

    #[test]
    fn agrees_with_brute_force_on_many_random_days() {
        // A small deterministic generator keeps the test reproducible.
        let mut seed: u64 = 0x9e3779b97f4a7c15;
        let mut next = move |m: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % m
        };
        let (mut feasible, mut infeasible) = (0, 0);
        for _ in 0..3000 {
            let n = 1 + next(7) as usize;
            let buffer = (next(4) * 15) as i64 * M;
            let slots: Vec<_> = (0..n as u32)
                .map(|id| {
                    let start = (7 * 60 + next(10 * 4) as i64 * 15) * M;
                    let len = (next(9) as i64 * 30) * M;
                    Slot {
                        id,
                        window_start: start,
                        window_end: start + len,
                        duration_secs: (15 + next(8) as i64 * 15) * M,
                    }
                })
                .collect();
            let expected = brute(&slots, buffer);
            let got = check(&slots, buffer);
            assert_eq!(got.is_ok(), expected, "slots {slots:?} buffer {buffer}");
            if let Ok(plan) = got {
                assert!(plan_is_valid(&slots, &plan, buffer));
                feasible += 1;
            } else {
                infeasible += 1;
            }
        }
        // The generator must exercise both answers, or the comparison proves little.
        assert!(feasible > 300 && infeasible > 300, "feasible {feasible}, infeasible {infeasible}");
    }

    #[test]
    fn the_cluster_around_a_visit_excludes_unrelated_ones() {
        let slots = [slot(1, 8.0, 9.0, 30), slot(2, 13.0, 14.0, 60), slot(3, 14.5, 15.0, 30)];
        let (cluster, first, reach) = cluster_around(&slots, 30 * M, 3);
        assert_eq!(cluster.iter().map(|s| s.id).collect::<Vec<_>>(), vec![2, 3]);
        assert_eq!(first, 13 * H);
        assert_eq!(reach, 16 * H);
    }

    #[test]
    fn blockers_name_the_visit_in_the_way() {
        // 1 and 3 fit together; 2 sits on top of 3.
        let slots = [slot(1, 8.0, 8.0, 60), slot(2, 10.0, 10.0, 60), slot(3, 10.0, 10.5, 60)];
        assert!(check(&slots, 30 * M).is_err());
        assert_eq!(blockers(&slots, 30 * M, 3), vec![2]);
    }
}
