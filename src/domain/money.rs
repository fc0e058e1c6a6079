//! Money and pricing. Amounts are integer minor units (cents) of an ISO 4217
//! currency; quantities are exact decimals with up to four places. No
//! floating point anywhere.
//!
//! **Rounding rule**: each line's total is `quantity × unit price`, rounded
//! to the minor unit half away from zero, per line. Discount lines subtract
//! their total. Each tax is `subtotal × rate / 100000`, the rate in
//! thousandths of a percent ([`TaxRate`]: 8.875% is 8875; subtotal = sum of
//! rounded lines, discounts included), rounded the same way. The total is
//! the subtotal plus the taxes. Every step is checked for overflow.
//!
//! **Optional items** are priced like any line but left out of the
//! estimate's subtotal, taxes and total: those are what the required items
//! cost. What an optional item adds is the total with it minus the total
//! without it (its own price and the tax on it); what the customer approves
//! is the same rule applied to the required items plus the ones they chose.

use std::fmt;

/// Quantity scale: four decimal places.
pub const QTY_SCALE: i64 = 10_000;
/// Sane limits that keep every product far inside i64.
pub const MAX_QTY_UNITS: i64 = 1_000_000 * QTY_SCALE;
pub const MAX_UNIT_PRICE: i64 = 10_000_000_000; // 100 million in major units
pub const MAX_LINES: usize = 200;
/// A tax rate's scale: thousandths of a percent, so 100% is 100000.
pub const RATE_SCALE: i64 = 100_000;
/// The largest tax rate: 100%.
pub const MAX_TAX_RATE: TaxRate = TaxRate(RATE_SCALE);

/// A tax rate, exactly, in thousandths of a percent (per cent mille):
/// 8.875% is 8875, 8.25% is 8250, 6% is 6000. Rates people actually have
/// (New York City's 8.875%, New Jersey's 6.625%) need three decimals of a
/// percent; basis points (two) cannot hold them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct TaxRate(pub i64);

impl TaxRate {
    /// Parses a percent as people write it: `"8.875"`, `"6"`, `"8.25%"`:
    /// digits with at most three decimals, 0 to 100. No sign, no exponent.
    pub fn parse(s: &str) -> Result<TaxRate, String> {
        let t = s.trim();
        let t = t.strip_suffix('%').unwrap_or(t).trim_end();
        let (int, frac) = t.split_once('.').unwrap_or((t, ""));
        let digits = |d: &str| d.bytes().all(|b| b.is_ascii_digit());
        if int.is_empty() || !digits(int) || !digits(frac) || (t.contains('.') && frac.is_empty()) {
            return Err(format!("'{s}' is not a percentage such as 8.875"));
        }
        if frac.len() > 3 {
            return Err(format!("'{s}' has more than 3 decimal places (8.875 is the most precise rate we take)"));
        }
        let over = || format!("'{s}' is more than 100%");
        let int = int.trim_start_matches('0');
        let int: i64 = match int.len() {
            0 => 0,
            1..=3 => int.parse().map_err(|_| over())?,
            _ => return Err(over()),
        };
        let frac: i64 = if frac.is_empty() { 0 } else { format!("{frac:0<3}").parse().unwrap_or(0) };
        let rate = TaxRate(int * 1000 + frac);
        if rate > MAX_TAX_RATE {
            return Err(over());
        }
        Ok(rate)
    }

    /// A rate given in basis points (825 = 8.25%), exactly; `None` when it
    /// is outside 0–100%.
    pub fn from_bp(bp: i64) -> Option<TaxRate> {
        (0..=10_000).contains(&bp).then_some(TaxRate(bp * 10))
    }

    /// The rate in basis points when it is a whole number of them (8.25%
    /// is 825), `None` when it is not (8.875%): never a rounded rate.
    pub fn as_bp(self) -> Option<i64> {
        (self.0 % 10 == 0).then_some(self.0 / 10)
    }

    /// As people write it, with the sign: `8.875%`, `8.25%`, `6%`.
    pub fn percent(self) -> String {
        format!("{self}%")
    }
}

impl fmt::Display for TaxRate {
    /// The number of percent, without trailing zeros: `8.875`, `8.25`, `6`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let a = self.0.unsigned_abs();
        match a % 1000 {
            0 => write!(f, "{sign}{}", a / 1000),
            frac => write!(f, "{sign}{}.{}", a / 1000, format!("{frac:03}").trim_end_matches('0')),
        }
    }
}

/// An exact decimal quantity in ten-thousandths (`2.5` is 25000).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Quantity(pub i64);

impl Quantity {
    /// Parses `"2.5"`, `"37.25"`, `"-1"`, `"3"`: digits with an optional sign
    /// and at most four decimals.
    pub fn parse(s: &str) -> Result<Quantity, String> {
        let t = s.trim();
        let (neg, digits) = match t.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, t.strip_prefix('+').unwrap_or(t)),
        };
        let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
        let ok = !int.is_empty() && int.bytes().all(|b| b.is_ascii_digit()) && frac.bytes().all(|b| b.is_ascii_digit());
        if !ok || (digits.contains('.') && frac.is_empty()) {
            return Err(format!("'{s}' is not a decimal number such as 2.5"));
        }
        if frac.len() > 4 {
            return Err(format!("'{s}' has more than 4 decimal places"));
        }
        if int.len() > 12 {
            return Err(format!("'{s}' is too large"));
        }
        let int_v: i64 = int.parse().map_err(|_| format!("'{s}' is too large"))?;
        let frac_v: i64 = if frac.is_empty() { 0 } else { format!("{frac:0<4}").parse().unwrap_or(0) };
        let units =
            int_v.checked_mul(QTY_SCALE).and_then(|v| v.checked_add(frac_v)).ok_or(format!("'{s}' is too large"))?;
        Ok(Quantity(if neg { -units } else { units }))
    }
}

impl fmt::Display for Quantity {
    /// The shortest exact form: `2.5`, `3`, `0.0125`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let a = self.0.unsigned_abs();
        let int = a / QTY_SCALE as u64;
        let frac = a % QTY_SCALE as u64;
        if frac == 0 {
            write!(f, "{sign}{int}")
        } else {
            let frac = format!("{frac:04}");
            write!(f, "{sign}{int}.{}", frac.trim_end_matches('0'))
        }
    }
}

/// Divides rounding half away from zero.
pub fn div_round_half_away(n: i128, d: i128) -> i128 {
    debug_assert!(d > 0);
    let q = n / d;
    let r = n % d;
    if 2 * r.abs() >= d {
        q + n.signum()
    } else {
        q
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LineKind {
    Labor,
    Material,
    Equipment,
    Fee,
    Discount,
}
super::str_enum!(LineKind { Labor => "labor", Material => "material", Equipment => "equipment", Fee => "fee", Discount => "discount" });

/// Where an estimate stands. Editing a sent estimate supersedes it with the
/// next version; the customer's answer decides the one they were sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EstimateStatus {
    Draft,
    Sent,
    Approved,
    Declined,
    ChangesRequested,
    Superseded,
}
super::str_enum!(EstimateStatus {
    Draft => "draft", Sent => "sent", Approved => "approved", Declined => "declined",
    ChangesRequested => "changes_requested", Superseded => "superseded",
});

/// A priced line as the pricing rules see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub kind: LineKind,
    pub quantity: Quantity,
    pub unit_price_minor: i64,
    /// The customer may add it; not in the total unless chosen.
    pub optional: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Totals {
    /// Each line's rounded total (negative for discounts), optional or not.
    pub lines: Vec<i64>,
    pub subtotal: i64,
    /// Each tax, in the order given.
    pub taxes: Vec<i64>,
    pub tax: i64,
    pub total: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PricingError {
    /// A line (by index) is not acceptable.
    Line {
        index: usize,
        field: &'static str,
        message: String,
    },
    Tax {
        index: usize,
        message: String,
    },
    TooManyLines,
    Empty,
    /// Every line is optional: there is nothing the total stands for.
    OnlyOptional,
    Overflow,
    NegativeTotal,
}

/// Computes every total of the required lines, or says exactly what is wrong.
pub fn price(lines: &[Line], rates: &[TaxRate]) -> Result<Totals, PricingError> {
    price_including(lines, rates, &[])
}

/// The totals of the required lines plus the optional lines at the indexes
/// `chosen` (an index of a required line changes nothing; the caller says
/// which indexes the customer may choose).
pub fn price_with(lines: &[Line], rates: &[TaxRate], chosen: &[usize]) -> Result<Totals, PricingError> {
    price_including(lines, rates, chosen)
}

/// What each optional line adds to the total when chosen alone (its price
/// and the tax on it); `None` for required lines.
pub fn option_adds(lines: &[Line], rates: &[TaxRate]) -> Result<Vec<Option<i64>>, PricingError> {
    let base = price(lines, rates)?.total;
    lines
        .iter()
        .enumerate()
        .map(|(i, l)| match l.optional {
            false => Ok(None),
            true => Ok(Some(price_with(lines, rates, &[i])?.total - base)),
        })
        .collect()
}

fn price_including(lines: &[Line], rates: &[TaxRate], chosen: &[usize]) -> Result<Totals, PricingError> {
    if lines.is_empty() {
        return Err(PricingError::Empty);
    }
    if lines.len() > MAX_LINES {
        return Err(PricingError::TooManyLines);
    }
    for (index, rate) in rates.iter().enumerate() {
        if !(TaxRate(0)..=MAX_TAX_RATE).contains(rate) {
            return Err(PricingError::Tax { index, message: "must be between 0% and 100%".into() });
        }
    }
    let mut totals = Vec::with_capacity(lines.len());
    let mut subtotal: i64 = 0;
    for (index, l) in lines.iter().enumerate() {
        let q = l.quantity.0;
        if l.kind == LineKind::Discount {
            if q == 0 {
                return Err(PricingError::Line { index, field: "quantity", message: "must not be zero".into() });
            }
        } else if q <= 0 {
            return Err(PricingError::Line { index, field: "quantity", message: "must be greater than zero".into() });
        }
        if q.abs() > MAX_QTY_UNITS {
            return Err(PricingError::Line { index, field: "quantity", message: "must be at most 1000000".into() });
        }
        if l.unit_price_minor < 0 {
            return Err(PricingError::Line {
                index,
                field: "unit_price_minor",
                message: "must not be negative (use a discount line to take money off)".into(),
            });
        }
        if l.unit_price_minor > MAX_UNIT_PRICE {
            return Err(PricingError::Line { index, field: "unit_price_minor", message: "is too large".into() });
        }
        if l.optional && l.kind == LineKind::Discount {
            return Err(PricingError::Line {
                index,
                field: "optional",
                message: "a discount cannot be optional (an optional item is something the customer may add)".into(),
            });
        }
        let raw = div_round_half_away(q as i128 * l.unit_price_minor as i128, QTY_SCALE as i128);
        let amount = i64::try_from(raw.abs()).map_err(|_| PricingError::Overflow)?;
        let line = if l.kind == LineKind::Discount { -amount } else { amount };
        if !l.optional || chosen.contains(&index) {
            subtotal = subtotal.checked_add(line).ok_or(PricingError::Overflow)?;
        }
        totals.push(line);
    }
    if lines.iter().all(|l| l.optional) {
        return Err(PricingError::OnlyOptional);
    }
    if subtotal < 0 {
        return Err(PricingError::NegativeTotal);
    }
    let mut taxes = Vec::with_capacity(rates.len());
    let mut tax: i64 = 0;
    for rate in rates {
        let t = i64::try_from(div_round_half_away(subtotal as i128 * rate.0 as i128, RATE_SCALE as i128))
            .map_err(|_| PricingError::Overflow)?;
        tax = tax.checked_add(t).ok_or(PricingError::Overflow)?;
        taxes.push(t);
    }
    let total = subtotal.checked_add(tax).ok_or(PricingError::Overflow)?;
    Ok(Totals { lines: totals, subtotal, taxes, tax, total })
}

/// An ISO 4217 currency we can format: code, symbol, minor-unit digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Currency {
    pub code: &'static str,
    pub symbol: &'static str,
    pub digits: u32,
}

const CURRENCIES: &[Currency] = &[
    Currency { code: "USD", symbol: "$", digits: 2 },
    Currency { code: "CAD", symbol: "CA$", digits: 2 },
    Currency { code: "AUD", symbol: "A$", digits: 2 },
    Currency { code: "NZD", symbol: "NZ$", digits: 2 },
    Currency { code: "EUR", symbol: "€", digits: 2 },
    Currency { code: "GBP", symbol: "£", digits: 2 },
    Currency { code: "CHF", symbol: "CHF ", digits: 2 },
    Currency { code: "INR", symbol: "₹", digits: 2 },
    Currency { code: "JPY", symbol: "¥", digits: 0 },
    Currency { code: "KRW", symbol: "₩", digits: 0 },
    Currency { code: "MXN", symbol: "MX$", digits: 2 },
    Currency { code: "BRL", symbol: "R$", digits: 2 },
    Currency { code: "ZAR", symbol: "R ", digits: 2 },
    Currency { code: "SGD", symbol: "S$", digits: 2 },
    Currency { code: "HKD", symbol: "HK$", digits: 2 },
    Currency { code: "SEK", symbol: "SEK ", digits: 2 },
    Currency { code: "NOK", symbol: "NOK ", digits: 2 },
    Currency { code: "DKK", symbol: "DKK ", digits: 2 },
    Currency { code: "KWD", symbol: "KWD ", digits: 3 },
];

impl Currency {
    pub fn parse(code: &str) -> Result<Currency, String> {
        let up = code.trim().to_ascii_uppercase();
        CURRENCIES
            .iter()
            .find(|c| c.code == up)
            .copied()
            .ok_or_else(|| format!("'{code}' is not a currency we know (ISO 4217, e.g. USD, EUR, GBP)"))
    }

    /// `$1,234.56`, `-$20.00`, `¥1,500`.
    pub fn format(&self, minor: i64) -> String {
        let neg = minor < 0;
        let a = minor.unsigned_abs();
        let scale = 10u64.pow(self.digits);
        let (major, frac) = (a / scale, a % scale);
        let digits = major.to_string();
        let mut grouped = String::new();
        for (i, ch) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                grouped.push(',');
            }
            grouped.push(ch);
        }
        let frac =
            if self.digits > 0 { format!(".{frac:0width$}", width = self.digits as usize) } else { String::new() };
        format!("{}{}{grouped}{frac}", if neg { "-" } else { "" }, self.symbol)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(kind: LineKind, q: &str, price: i64) -> Line {
        Line { kind, quantity: Quantity::parse(q).unwrap(), unit_price_minor: price, optional: false }
    }

    fn optional(kind: LineKind, q: &str, price: i64) -> Line {
        Line { optional: true, ..line(kind, q, price) }
    }

    #[test]
    fn optional_items_are_outside_the_total_and_add_their_price_and_tax() {
        // $1,000 of required work, a $250 optional fan rental, a $99.99
        // optional sealant, a $100 discount; 8.25% tax.
        let lines = [
            line(LineKind::Labor, "10", 10_000),
            optional(LineKind::Equipment, "1", 25_000),
            optional(LineKind::Material, "1", 9_999),
            line(LineKind::Discount, "1", 10_000),
        ];
        let t = price(&lines, &[TaxRate(8_250)]).unwrap();
        assert_eq!(t.lines, vec![100_000, 25_000, 9_999, -10_000], "every line is priced");
        assert_eq!(t.subtotal, 90_000, "the required items only");
        assert_eq!(t.tax, 7_425);
        assert_eq!(t.total, 97_425);
        // 115,000 × 8.25% = 9,487.5 -> 9,488
        assert_eq!(price_with(&lines, &[TaxRate(8_250)], &[1]).unwrap().total, 115_000 + 9_488);
        // 99,999 × 8.25% = 8,249.9175 -> 8,250
        assert_eq!(price_with(&lines, &[TaxRate(8_250)], &[2]).unwrap().total, 99_999 + 8_250);
        // Both: 124,999 × 8.25% = 10,312.4175 -> 10,312
        assert_eq!(price_with(&lines, &[TaxRate(8_250)], &[1, 2]).unwrap().total, 124_999 + 10_312);
        assert_eq!(price_with(&lines, &[TaxRate(8_250)], &[0, 3]).unwrap(), t, "a required index changes nothing");
        assert_eq!(option_adds(&lines, &[TaxRate(8_250)]).unwrap(), vec![None, Some(27_063), Some(10_824), None]);
    }

    #[test]
    fn a_discount_cannot_be_optional_and_an_estimate_of_only_options_is_refused() {
        assert!(matches!(
            price(&[line(LineKind::Fee, "1", 500), optional(LineKind::Discount, "1", 100)], &[]),
            Err(PricingError::Line { index: 1, field: "optional", .. })
        ));
        assert_eq!(price(&[optional(LineKind::Fee, "1", 500)], &[]), Err(PricingError::OnlyOptional));
    }

    #[test]
    fn quantities_are_exact_decimals() {
        assert_eq!(Quantity::parse("2.5").unwrap(), Quantity(25_000));
        assert_eq!(Quantity::parse("37.25").unwrap(), Quantity(372_500));
        assert_eq!(Quantity::parse("0.0001").unwrap(), Quantity(1));
        assert_eq!(Quantity::parse("-1").unwrap(), Quantity(-10_000));
        assert_eq!(Quantity::parse("3").unwrap().to_string(), "3");
        assert_eq!(Quantity::parse("2.50").unwrap().to_string(), "2.5");
        assert_eq!(Quantity::parse("0.0125").unwrap().to_string(), "0.0125");
        for bad in ["", "abc", "1.", ".5", "1.23456", "1e3", "1,5", "99999999999999"] {
            assert!(Quantity::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rates_take_three_decimals_of_a_percent_exactly() {
        assert_eq!(TaxRate::parse("8.875"), Ok(TaxRate(8_875)));
        assert_eq!(TaxRate::parse("6.625"), Ok(TaxRate(6_625)));
        assert_eq!(TaxRate::parse("8.25"), Ok(TaxRate(8_250)));
        assert_eq!(TaxRate::parse(" 6% "), Ok(TaxRate(6_000)));
        assert_eq!(TaxRate::parse("0.001"), Ok(TaxRate(1)));
        assert_eq!(TaxRate::parse("100"), Ok(MAX_TAX_RATE));
        assert_eq!(TaxRate::parse("100.000"), Ok(MAX_TAX_RATE));
        assert_eq!(TaxRate::parse("0"), Ok(TaxRate(0)));
        assert!(TaxRate::parse("8.8755").unwrap_err().contains("more than 3 decimal places"));
        assert!(TaxRate::parse("100.001").unwrap_err().contains("more than 100%"));
        assert!(TaxRate::parse("99999999999999999999").unwrap_err().contains("more than 100%"));
        for bad in ["", "abc", "-1", "+5", "8.", ".5", "8,875", "1e2", "8.8.5", "%"] {
            assert!(TaxRate::parse(bad).unwrap_err().contains("not a percentage"), "{bad}");
        }
        // As people write them, and as basis points only where exact.
        assert_eq!(TaxRate(8_875).percent(), "8.875%");
        assert_eq!(TaxRate(8_250).percent(), "8.25%");
        assert_eq!(TaxRate(6_000).percent(), "6%");
        assert_eq!(TaxRate(8_500).to_string(), "8.5");
        assert_eq!(TaxRate(50).percent(), "0.05%");
        assert_eq!(TaxRate(8_250).as_bp(), Some(825));
        assert_eq!(TaxRate(8_875).as_bp(), None, "never a rounded rate");
        assert_eq!(TaxRate::from_bp(825), Some(TaxRate(8_250)));
        assert_eq!(TaxRate::from_bp(10_001), None);
        assert_eq!(TaxRate::from_bp(-1), None);
        for r in [0, 1, 5, 8_875, 6_625, 8_250, 100_000] {
            assert_eq!(TaxRate::parse(&TaxRate(r).to_string()), Ok(TaxRate(r)), "round trip {r}");
        }
    }

    #[test]
    fn new_york_citys_rate_is_priced_exactly() {
        // $601.00 at 8.875%: 60,100 × 8,875 / 100,000 = 5,333.875 -> 5,334.
        let t = price(&[line(LineKind::Labor, "6", 8_500), line(LineKind::Equipment, "2", 4_550)], &[TaxRate(8_875)])
            .unwrap();
        assert_eq!((t.subtotal, t.tax, t.total), (60_100, 5_334, 65_434));
        // New Jersey's 6.625% on $1,195.00: 7,916.875 -> 7,917.
        assert_eq!(price(&[line(LineKind::Fee, "1", 119_500)], &[TaxRate(6_625)]).unwrap().tax, 7_917);
    }

    #[test]
    fn half_away_from_zero() {
        assert_eq!(div_round_half_away(15, 10), 2);
        assert_eq!(div_round_half_away(14, 10), 1);
        assert_eq!(div_round_half_away(-15, 10), -2);
        assert_eq!(div_round_half_away(-14, 10), -1);
        assert_eq!(div_round_half_away(25, 10), 3, "not banker's rounding");
    }

    #[test]
    fn worked_example_dry_out_with_tax() {
        // 2.5 h of two technicians at $85.00, 37.25 sq ft of drywall at $3.49,
        // a $45.00 fee, a $20.00 discount, 8.25% tax.
        let lines = [
            line(LineKind::Labor, "2.5", 8500),
            line(LineKind::Material, "37.25", 349),
            line(LineKind::Fee, "1", 4500),
            line(LineKind::Discount, "1", 2000),
        ];
        let t = price(&lines, &[TaxRate(8_250)]).unwrap();
        // 37.25 × 349 = 13000.25 -> 13000
        assert_eq!(t.lines, vec![21250, 13000, 4500, -2000]);
        assert_eq!(t.subtotal, 36750);
        // 36750 × 0.0825 = 3031.875 -> 3032
        assert_eq!(t.taxes, vec![3032]);
        assert_eq!(t.total, 39782);
    }

    #[test]
    fn rounding_edges_round_each_line_half_away_from_zero() {
        // 0.5 × 1 cent = 0.5 -> 1; 0.25 × 1 = 0.25 -> 0; 1.5 × 3 = 4.5 -> 5
        let t = price(
            &[line(LineKind::Material, "0.5", 1), line(LineKind::Material, "0.25", 1), line(LineKind::Labor, "1.5", 3)],
            &[],
        )
        .unwrap();
        assert_eq!(t.lines, vec![1, 0, 5]);
        // A discount of 0.5 cent rounds to 1 cent off.
        let t = price(&[line(LineKind::Fee, "1", 100), line(LineKind::Discount, "0.5", 1)], &[]).unwrap();
        assert_eq!(t.lines, vec![100, -1]);
        // Tax of exactly half a cent rounds up: 50 × 1% = 0.5.
        assert_eq!(price(&[line(LineKind::Fee, "1", 50)], &[TaxRate(1_000)]).unwrap().tax, 1);
        // Two taxes are each rounded: 1234 × 6.25% = 77.125 -> 77; × 2% = 24.68 -> 25.
        let t = price(&[line(LineKind::Fee, "1", 1234)], &[TaxRate(6_250), TaxRate(2_000)]).unwrap();
        assert_eq!(t.taxes, vec![77, 25]);
        assert_eq!(t.total, 1234 + 102);
    }

    #[test]
    fn bad_lines_name_the_line_and_field() {
        assert_eq!(
            price(&[line(LineKind::Labor, "0", 100)], &[]),
            Err(PricingError::Line { index: 0, field: "quantity", message: "must be greater than zero".into() })
        );
        assert!(matches!(
            price(&[line(LineKind::Fee, "1", 1), line(LineKind::Labor, "-2", 100)], &[]),
            Err(PricingError::Line { index: 1, .. })
        ));
        assert!(matches!(
            price(&[line(LineKind::Fee, "1", -5)], &[]),
            Err(PricingError::Line { field: "unit_price_minor", .. })
        ));
        assert!(
            price(&[line(LineKind::Discount, "-1", 100), line(LineKind::Fee, "1", 500)], &[]).is_ok(),
            "a negative discount quantity is still a discount"
        );
        assert_eq!(price(&[], &[]), Err(PricingError::Empty));
        assert!(matches!(
            price(&[line(LineKind::Fee, "1", 1)], &[TaxRate(100_001)]),
            Err(PricingError::Tax { index: 0, .. })
        ));
        assert_eq!(
            price(&[line(LineKind::Fee, "1", 100), line(LineKind::Discount, "1", 200)], &[]),
            Err(PricingError::NegativeTotal)
        );
        let many: Vec<Line> = (0..=MAX_LINES).map(|_| line(LineKind::Fee, "1", 1)).collect();
        assert_eq!(price(&many, &[]), Err(PricingError::TooManyLines));
    }

    #[test]
    fn the_largest_estimate_allowed_is_exact_and_larger_prices_are_refused() {
        // The limits keep every total inside i64: 200 lines at the maximum
        // quantity and price, plus 100% tax, is 4e18 < 9.2e18.
        let big: Vec<Line> = (0..MAX_LINES).map(|_| line(LineKind::Material, "1000000", MAX_UNIT_PRICE)).collect();
        let t = price(&big, &[MAX_TAX_RATE]).unwrap();
        assert_eq!(t.subtotal as i128, 200 * 1_000_000 * MAX_UNIT_PRICE as i128);
        assert_eq!(t.total as i128, 2 * t.subtotal as i128);
        assert!(matches!(
            price(&[line(LineKind::Fee, "1", MAX_UNIT_PRICE + 1)], &[]),
            Err(PricingError::Line { field: "unit_price_minor", .. })
        ));
        assert!(matches!(
            price(&[line(LineKind::Fee, "1000001", 1)], &[]),
            Err(PricingError::Line { field: "quantity", .. })
        ));
    }

    #[test]
    fn currencies_are_formatted() {
        let usd = Currency::parse("usd").unwrap();
        assert_eq!(usd.format(123456), "$1,234.56");
        assert_eq!(usd.format(-2000), "-$20.00");
        assert_eq!(usd.format(5), "$0.05");
        assert_eq!(Currency::parse("JPY").unwrap().format(150000), "¥150,000");
        assert_eq!(Currency::parse("KWD").unwrap().format(1234), "KWD 1.234");
        assert!(Currency::parse("XYZ").is_err());
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        fn any_line() -> impl Strategy<Value = Line> {
            (0usize..5, 1i64..=MAX_QTY_UNITS / 1000, 0i64..=10_000_000).prop_map(|(k, q, p)| Line {
                kind: LineKind::ALL[k],
                quantity: Quantity(q),
                unit_price_minor: p,
                optional: false,
            })
        }

        proptest! {
            #[test]
            fn the_total_is_the_sum_of_rounded_lines_plus_taxes(
                lines in proptest::collection::vec(any_line(), 1..30),
                rates in proptest::collection::vec((0i64..=RATE_SCALE).prop_map(TaxRate), 0..3),
            ) {
                match price(&lines, &rates) {
                    Ok(t) => {
                        // Each line is its own exact product rounded half away from zero.
                        for (l, got) in lines.iter().zip(&t.lines) {
                            let exact = l.quantity.0 as i128 * l.unit_price_minor as i128;
                            let rounded = div_round_half_away(exact, QTY_SCALE as i128);
                            let signed = if l.kind == LineKind::Discount { -rounded.abs() } else { rounded };
                            prop_assert_eq!(*got as i128, signed);
                            // Rounding never moves a line by more than half a cent.
                            let signed_exact = if l.kind == LineKind::Discount { -exact.abs() } else { exact };
                            let error = (signed * QTY_SCALE as i128 - signed_exact).abs();
                            prop_assert!(error * 2 <= QTY_SCALE as i128, "line off by more than half a cent");
                        }
                        prop_assert_eq!(t.subtotal as i128, t.lines.iter().map(|x| *x as i128).sum::<i128>());
                        prop_assert_eq!(t.tax as i128, t.taxes.iter().map(|x| *x as i128).sum::<i128>());
                        prop_assert_eq!(t.total as i128, t.subtotal as i128 + t.tax as i128);
                        prop_assert!(t.total >= 0);
                    }
                    Err(PricingError::NegativeTotal) => {
                        let sum: i128 = lines.iter().map(|l| {
                            let r = div_round_half_away(l.quantity.0 as i128 * l.unit_price_minor as i128, QTY_SCALE as i128);
                            if l.kind == LineKind::Discount { -r.abs() } else { r }
                        }).sum();
                        prop_assert!(sum < 0);
                    }
                    Err(e) => prop_assert!(false, "unexpected {:?}", e),
                }
            }

            #[test]
            fn a_rate_in_basis_points_prices_as_it_always_did(
                lines in proptest::collection::vec(any_line(), 1..10),
                bp in 0i64..=10_000,
            ) {
                // The old rule, subtotal × bp / 10000, against the new unit (bp × 10).
                let lines: Vec<Line> = lines
                    .into_iter()
                    .map(|l| Line { kind: if l.kind == LineKind::Discount { LineKind::Fee } else { l.kind }, ..l })
                    .collect();
                let rate = TaxRate::from_bp(bp).unwrap();
                let t = price(&lines, &[rate]).unwrap();
                let old = div_round_half_away(t.subtotal as i128 * bp as i128, 10_000);
                prop_assert_eq!(t.tax as i128, old);
                prop_assert_eq!(rate.as_bp(), Some(bp));
            }

            #[test]
            fn every_rate_reads_back_exactly_as_written(r in 0i64..=RATE_SCALE) {
                let written = TaxRate(r).to_string();
                prop_assert_eq!(TaxRate::parse(&written), Ok(TaxRate(r)));
                prop_assert!(!written.contains('.') || !written.ends_with('0'), "no trailing zeros: {}", written);
            }

            #[test]
            fn huge_inputs_never_overflow_silently(
                q in 1i64..=MAX_QTY_UNITS,
                p in 0i64..=MAX_UNIT_PRICE,
                n in 1usize..=MAX_LINES,
                rate in 0i64..=RATE_SCALE,
            ) {
                let lines: Vec<Line> = (0..n).map(|_| Line { kind: LineKind::Material, quantity: Quantity(q), unit_price_minor: p, optional: false }).collect();
                let exact_sub = n as i128 * div_round_half_away(q as i128 * p as i128, QTY_SCALE as i128);
                match price(&lines, &[TaxRate(rate)]) {
                    Ok(t) => {
                        prop_assert_eq!(t.subtotal as i128, exact_sub);
                        prop_assert_eq!(t.total as i128, exact_sub + div_round_half_away(exact_sub * rate as i128, RATE_SCALE as i128));
                    }
                    Err(PricingError::Overflow) => {
                        let total = exact_sub + div_round_half_away(exact_sub * rate as i128, RATE_SCALE as i128);
                        prop_assert!(total > i64::MAX as i128, "refused a total that fits: {}", total);
                    }
                    Err(e) => prop_assert!(false, "unexpected {:?}", e),
                }
            }
        }
    }
}

// How one version of an estimate differs from the last lives beside this.
pub use super::revisions::{diff, match_lines, Changes, PricedLine, TAX_KIND};
