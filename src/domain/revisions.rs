//! Revisions of an estimate: which line of the new version continues which
//! line of the last, and what was added, removed or repriced, so the
//! customer is told exactly what changed.

use super::money::TaxRate;

/// A line as compared between two versions of an estimate. Taxes are
/// compared too, as lines of kind [`TAX_KIND`] whose quantity is the rate
/// (`"8.875%"`), unit price the rate in thousandths of a percent
/// ([`TaxRate`]), and total the amount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PricedLine {
    pub kind: String,
    pub description: String,
    pub quantity: String,
    pub unit_price_minor: i64,
    pub total_minor: i64,
    /// An item the customer may add, outside the total.
    pub optional: bool,
}

/// The kind of a [`PricedLine`] that stands for a tax.
pub const TAX_KIND: &str = "tax";

impl PricedLine {
    /// A tax as a line, so a revision that changes a rate (or an amount)
    /// says so like any other line.
    pub fn tax(name: &str, rate: TaxRate, amount_minor: i64) -> PricedLine {
        PricedLine {
            kind: TAX_KIND.into(),
            description: name.into(),
            quantity: rate.percent(),
            unit_price_minor: rate.0,
            total_minor: amount_minor,
            optional: false,
        }
    }

    pub fn is_tax(&self) -> bool {
        self.kind == TAX_KIND
    }
}

/// What changed from one version to the next: lines matched by kind and
/// description (case-insensitive).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    pub added: Vec<PricedLine>,
    pub removed: Vec<PricedLine>,
    /// (before, after) for lines whose quantity or price changed.
    pub repriced: Vec<(PricedLine, PricedLine)>,
    /// Lines (as they are now) that became optional, or required again.
    pub now_optional: Vec<PricedLine>,
    pub now_required: Vec<PricedLine>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty()
            && self.removed.is_empty()
            && self.repriced.is_empty()
            && self.now_optional.is_empty()
            && self.now_required.is_empty()
    }
}

/// For each new line, the index of the old line it continues (same kind,
/// same description ignoring case and surrounding spaces; each old line is
/// matched at most once, first come first served).
pub fn match_lines(old: &[PricedLine], new: &[PricedLine]) -> Vec<Option<usize>> {
    let key = |l: &PricedLine| (l.kind.clone(), l.description.trim().to_lowercase());
    let mut matched_old = vec![false; old.len()];
    new.iter()
        .map(|n| {
            let i = (0..old.len()).find(|&i| !matched_old[i] && key(&old[i]) == key(n))?;
            matched_old[i] = true;
            Some(i)
        })
        .collect()
}

pub fn diff(old: &[PricedLine], new: &[PricedLine]) -> Changes {
    let mut changes = Changes::default();
    let pairs = match_lines(old, new);
    for (n, m) in new.iter().zip(&pairs) {
        match m.map(|i| &old[i]) {
            Some(o) => {
                if o.quantity != n.quantity
                    || o.unit_price_minor != n.unit_price_minor
                    || o.total_minor != n.total_minor
                {
                    changes.repriced.push((o.clone(), n.clone()));
                }
                match (o.optional, n.optional) {
                    (false, true) => changes.now_optional.push(n.clone()),
                    (true, false) => changes.now_required.push(n.clone()),
                    _ => {}
                }
            }
            None => changes.added.push(n.clone()),
        }
    }
    for (i, o) in old.iter().enumerate() {
        if !pairs.contains(&Some(i)) {
            changes.removed.push(o.clone());
        }
    }
    changes
}

#[cfg(test)]
mod diff_tests {
    use super::*;

    fn pl(kind: &str, d: &str, q: &str, p: i64) -> PricedLine {
        PricedLine {
            kind: kind.into(),
            description: d.into(),
            quantity: q.into(),
            unit_price_minor: p,
            total_minor: p,
            optional: false,
        }
    }

    #[test]
    fn a_revision_names_an_item_that_became_optional_or_required() {
        let old =
            [pl("labor", "Dry-out", "2", 8500), PricedLine { optional: true, ..pl("equipment", "Fan", "1", 5000) }];
        let new =
            [PricedLine { optional: true, ..pl("labor", "dry-out", "2", 8500) }, pl("equipment", "Fan", "1", 5000)];
        let c = diff(&old, &new);
        assert_eq!(c.now_optional.iter().map(|l| l.description.as_str()).collect::<Vec<_>>(), vec!["dry-out"]);
        assert_eq!(c.now_required.iter().map(|l| l.description.as_str()).collect::<Vec<_>>(), vec!["Fan"]);
        assert!(c.repriced.is_empty() && c.added.is_empty() && c.removed.is_empty());
        assert!(!c.is_empty());
    }

    #[test]
    fn a_revision_says_what_was_added_removed_and_repriced() {
        let old = [
            pl("labor", "Dry-out", "2.5", 8500),
            pl("material", "Drywall", "37.25", 349),
            pl("fee", "Disposal", "1", 4500),
        ];
        let new = [
            pl("labor", "dry-out ", "3", 8500),
            pl("material", "Drywall", "37.25", 349),
            pl("equipment", "Dehumidifier", "2", 6000),
        ];
        let c = diff(&old, &new);
        assert_eq!(c.added.iter().map(|l| l.description.as_str()).collect::<Vec<_>>(), vec!["Dehumidifier"]);
        assert_eq!(c.removed.iter().map(|l| l.description.as_str()).collect::<Vec<_>>(), vec!["Disposal"]);
        assert_eq!(c.repriced.len(), 1);
        assert_eq!((c.repriced[0].0.quantity.as_str(), c.repriced[0].1.quantity.as_str()), ("2.5", "3"));
        assert!(diff(&old, &old).is_empty());
    }

    #[test]
    fn a_changed_tax_rate_is_a_changed_line_with_both_rates_and_amounts() {
        let lines = [pl("fee", "Disposal", "1", 10_000)];
        let old = [&lines[..], &[PricedLine::tax("Sales tax", TaxRate(8_250), 825)]].concat();
        let new = [&lines[..], &[PricedLine::tax("sales tax", TaxRate(9_000), 900)]].concat();
        let c = diff(&old, &new);
        assert!(c.added.is_empty() && c.removed.is_empty(), "{c:?}");
        assert_eq!(c.repriced.len(), 1);
        let (o, n) = &c.repriced[0];
        assert!(o.is_tax() && n.is_tax());
        assert_eq!((o.quantity.as_str(), n.quantity.as_str()), ("8.25%", "9%"));
        assert_eq!((o.total_minor, n.total_minor), (825, 900));
        // A tax that appears or goes is added or removed like any line.
        let c = diff(&lines, &new);
        assert_eq!(c.added, vec![PricedLine::tax("sales tax", TaxRate(9_000), 900)]);
        assert!(diff(&new, &new).is_empty());
    }

    #[test]
    fn rates_read_as_people_write_them() {
        let q = |r: i64| PricedLine::tax("Tax", TaxRate(r), 0).quantity;
        assert_eq!(q(8_250), "8.25%");
        assert_eq!(q(9_000), "9%");
        assert_eq!(q(88_750), "88.75%");
        assert_eq!(q(8_500), "8.5%");
        assert_eq!(q(0), "0%");
        assert_eq!(q(50), "0.05%");
        assert_eq!(q(8_875), "8.875%");
        assert_eq!(q(6_625), "6.625%");
    }

    #[test]
    fn a_rate_changed_in_its_third_decimal_is_a_change() {
        let old = [PricedLine::tax("Sales tax", TaxRate(8_870), 5_331)];
        let new = [PricedLine::tax("Sales tax", TaxRate(8_875), 5_334)];
        let c = diff(&old, &new);
        assert_eq!(c.repriced.len(), 1);
        assert_eq!((c.repriced[0].0.quantity.as_str(), c.repriced[0].1.quantity.as_str()), ("8.87%", "8.875%"));
    }

    #[test]
    fn each_old_line_is_matched_once() {
        let old = [pl("fee", "Trip", "1", 100), pl("fee", "Trip", "1", 200)];
        let new = [pl("fee", "trip", "1", 100), pl("fee", "Trip", "1", 200), pl("fee", "Trip", "1", 300)];
        assert_eq!(match_lines(&old, &new), vec![Some(0), Some(1), None]);
    }
}
