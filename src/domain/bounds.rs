//! Sanity bounds on estimates: numbers that are allowed but unusual enough
//! that we ask the office to confirm them (`"confirm": true`) before a
//! customer sees them. An 88.75% tax or a line that went from $130 to $1,300
//! between versions is far more often a typo than a price.

use super::money::{match_lines, Currency, PricedLine, Quantity, TaxRate};

/// Tax rates above this (30%) need confirming.
pub const CONFIRM_TAX_ABOVE: TaxRate = TaxRate(30_000);
/// A line total, or the estimate total, that grows this many times or more
/// from one version to the next needs confirming. Tenfold exactly is what
/// one extra zero does, so tenfold itself is asked about.
pub const CONFIRM_JUMP_FACTOR: i64 = 10;

/// Why a value needs confirming, naming the field as the request does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unusual {
    pub field: String,
    pub message: String,
}

const HOW_TO_CONFIRM: &str = "if that is right, send \"confirm\": true with the same request to accept it";

/// A tax rate above [`CONFIRM_TAX_ABOVE`], for `field` as the request
/// named it (`tax_percent`, `taxes[1].rate_bp`).
pub fn unusual_tax(field: &str, rate: TaxRate) -> Option<Unusual> {
    (rate > CONFIRM_TAX_ABOVE).then(|| Unusual {
        field: field.to_string(),
        message: format!(
            "a {} tax is above the {} we expect for any tax; {HOW_TO_CONFIRM}",
            rate.percent(),
            CONFIRM_TAX_ABOVE.percent(),
        ),
    })
}

/// `new` is at least [`CONFIRM_JUMP_FACTOR`] times `old` (by size, so a
/// discount counts too); nothing jumps from zero.
fn jumped(old: i64, new: i64) -> bool {
    old != 0 && (new.unsigned_abs() as u128) >= (old.unsigned_abs() as u128) * CONFIRM_JUMP_FACTOR as u128
}

/// Lines whose total jumped at least tenfold against the same line of the
/// previous version (matched as the revision message matches them), and
/// the estimate total if it did. New lines are indexed as in the request;
/// taxes are left to [`unusual_tax`]. The field is the line's quantity or
/// unit price, whichever grew more.
pub fn unusual_jumps(
    old: &[PricedLine],
    old_total: i64,
    new: &[PricedLine],
    new_total: i64,
    currency: &Currency,
) -> Vec<Unusual> {
    let old: Vec<PricedLine> = old.iter().filter(|l| !l.is_tax()).cloned().collect();
    let mut found = Vec::new();
    for (i, (n, m)) in new.iter().zip(match_lines(&old, new)).enumerate() {
        let Some(o) = m.map(|j| &old[j]) else { continue };
        if n.is_tax() || !jumped(o.total_minor, n.total_minor) {
            continue;
        }
        let field = if price_grew_more(o, n) { "unit_price_minor" } else { "quantity" };
        found.push(Unusual {
            field: format!("lines[{i}].{field}"),
            message: format!(
                "\"{}\" went from {} to {}, {} times what it was in the previous version; {HOW_TO_CONFIRM}",
                n.description,
                currency.format(o.total_minor),
                currency.format(n.total_minor),
                times(o.total_minor, n.total_minor),
            ),
        });
    }
    if jumped(old_total, new_total) {
        found.push(Unusual {
            field: "total".into(),
            message: format!(
                "the estimate total went from {} to {}, {} times what it was in the previous version; {HOW_TO_CONFIRM}",
                currency.format(old_total),
                currency.format(new_total),
                times(old_total, new_total),
            ),
        });
    }
    found
}

/// Whether the unit price grew by a larger factor than the quantity:
/// new_p / old_p >= new_q / old_q, compared without dividing.
fn price_grew_more(o: &PricedLine, n: &PricedLine) -> bool {
    let q = |s: &str| Quantity::parse(s).map(|q| q.0.unsigned_abs() as u128).unwrap_or(0);
    let (oq, nq) = (q(&o.quantity), q(&n.quantity));
    let (op, np) = (o.unit_price_minor.unsigned_abs() as u128, n.unit_price_minor.unsigned_abs() as u128);
    np * oq >= nq * op
}

/// "10", "12.5": how many times `old` the `new` amount is, to one decimal.
fn times(old: i64, new: i64) -> String {
    let tenths = (new.unsigned_abs() as u128 * 10) / (old.unsigned_abs() as u128).max(1);
    match tenths % 10 {
        0 => format!("{}", tenths / 10),
        t => format!("{}.{t}", tenths / 10),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd() -> Currency {
        Currency::parse("USD").unwrap()
    }

    fn pl(kind: &str, d: &str, q: &str, p: i64) -> PricedLine {
        let total = Quantity::parse(q).unwrap().0 as i128 * p as i128 / 10_000;
        let total = if kind == "discount" { -total } else { total } as i64;
        PricedLine {
            kind: kind.into(),
            description: d.into(),
            quantity: q.into(),
            unit_price_minor: p,
            total_minor: total,
            optional: false,
        }
    }

    #[test]
    fn taxes_above_thirty_percent_need_confirming_and_thirty_does_not() {
        assert_eq!(unusual_tax("tax_rate_bp", TaxRate(30_000)), None);
        assert_eq!(unusual_tax("tax_rate_bp", TaxRate(8_250)), None);
        assert_eq!(unusual_tax("tax_percent", TaxRate(8_875)), None, "8.875% is an ordinary rate");
        let u = unusual_tax("taxes[1].rate_bp", TaxRate(88_750)).unwrap();
        assert_eq!(u.field, "taxes[1].rate_bp");
        assert!(u.message.contains("88.75%") && u.message.contains("30%"), "{}", u.message);
        let u = unusual_tax("tax_percent", TaxRate(30_001)).unwrap();
        assert!(u.message.contains("30.001%"), "{}", u.message);
        assert!(u.message.contains("\"confirm\": true"), "{}", u.message);
    }

    #[test]
    fn an_extra_zero_on_a_price_names_that_lines_price_and_the_total() {
        let old = [pl("labor", "Dry-out", "2.5", 8_500), pl("material", "Drywall", "37.25", 349)];
        let new = [pl("labor", "Dry-out", "2.5", 85_000), pl("material", "Drywall", "37.25", 349)];
        let u = unusual_jumps(&old, 34_250, &new, 225_500, &usd());
        assert_eq!(u.iter().map(|u| u.field.as_str()).collect::<Vec<_>>(), vec!["lines[0].unit_price_minor"]);
        assert!(u[0].message.contains("$212.50 to $2,125.00, 10 times"), "{}", u[0].message);
        // With one line the total jumps too, and both are named.
        let u = unusual_jumps(&old[..1], 21_250, &new[..1], 212_500, &usd());
        assert_eq!(u.iter().map(|u| u.field.as_str()).collect::<Vec<_>>(), vec!["lines[0].unit_price_minor", "total"]);
    }

    #[test]
    fn a_quantity_jump_names_the_quantity_at_its_new_position() {
        let old = [pl("fee", "Disposal", "1", 4_500), pl("material", "Drywall", "37.25", 349)];
        let new = [pl("material", "drywall", "372.5", 349), pl("fee", "Disposal", "1", 4_500)];
        let u = unusual_jumps(&old, 0, &new, 0, &usd());
        assert_eq!(u.iter().map(|u| u.field.as_str()).collect::<Vec<_>>(), vec!["lines[0].quantity"]);
    }

    #[test]
    fn ordinary_revisions_new_lines_and_taxes_need_nothing() {
        let old = [pl("labor", "Dry-out", "2.5", 8_500), pl("discount", "Returning customer", "1", 2_000)];
        let new = [
            pl("labor", "Dry-out", "3", 9_000),
            pl("discount", "Returning customer", "1", 5_000),
            pl("equipment", "Dehumidifier", "3", 600_000),
            PricedLine::tax("Tax", TaxRate(9_000), 90_000),
        ];
        let with_tax = [&old[..], &[PricedLine::tax("Tax", TaxRate(8_250), 100)]].concat();
        assert_eq!(unusual_jumps(&with_tax, 19_250, &new, 100_000, &usd()), vec![]);
        // Nothing jumps from zero, and 9.9 times is not tenfold.
        assert!(!jumped(0, 1_000_000));
        assert!(!jumped(1_000, 9_999));
        assert!(jumped(1_000, 10_000));
        assert!(jumped(-2_000, -20_000), "a discount ten times larger is asked about too");
    }
}
