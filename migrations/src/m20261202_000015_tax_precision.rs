//! Tax rates in thousandths of a percent. An estimate's taxes (a JSON list
//! in `estimates.taxes`) carried each rate in basis points (`rate_bp`: 825
//! = 8.25%), which cannot hold New York City's 8.875% or New Jersey's
//! 6.625%. Each becomes `rate_pcm` (8.25% = 8250, 8.875% = 8875): basis
//! points × 10, exactly. The rewrite is done here, row by row, on both
//! SQLite and PostgreSQL alike (no database's JSON functions), and is
//! idempotent per tax, so a run interrupted on SQLite (which has no
//! transactional migrations) can simply run again.
//!
//! `down` turns rates back into basis points only when every rate is a
//! whole number of them: it first checks every row and refuses, naming the
//! estimate, before writing anything, rather than round 8.875% to 8.88%.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::ConnectionTrait;
use serde_json::Value;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Estimates {
    Table,
    Id,
    Taxes,
}

/// Rows read at a time.
const PAGE: u64 = 500;

/// Which way the rates go.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Direction {
    /// `rate_bp` → `rate_pcm` (× 10).
    Up,
    /// `rate_pcm` → `rate_bp` (÷ 10), only where exact.
    Down,
}

/// One estimate's taxes JSON with its rates converted: `Ok(None)` when
/// nothing changes, `Err` with why when it cannot be converted exactly.
pub fn convert(taxes: &str, dir: Direction) -> Result<Option<String>, String> {
    let mut list: Vec<Value> = serde_json::from_str(taxes).map_err(|e| format!("taxes are not a JSON list ({e})"))?;
    let (from, to) = match dir {
        Direction::Up => ("rate_bp", "rate_pcm"),
        Direction::Down => ("rate_pcm", "rate_bp"),
    };
    let mut changed = false;
    for tax in list.iter_mut() {
        let shown = tax.to_string();
        let Some(obj) = tax.as_object_mut() else { return Err(format!("a tax is not an object: {shown}")) };
        // Already converted (an interrupted run): leave it.
        if obj.contains_key(to) && !obj.contains_key(from) {
            continue;
        }
        let old = obj.get(from).and_then(Value::as_i64).ok_or_else(|| format!("a tax has no whole {from}: {shown}"))?;
        let new = match dir {
            Direction::Up => old.checked_mul(10).ok_or_else(|| format!("{from} {old} is too large"))?,
            Direction::Down if old % 10 == 0 => old / 10,
            Direction::Down => {
                let name = obj.get("name").and_then(Value::as_str).unwrap_or("a tax");
                return Err(format!(
                    "\"{name}\" is {}.{:03}%, which basis points cannot hold; change that rate before migrating down",
                    old / 1000,
                    old % 1000
                ));
            }
        };
        obj.remove(from);
        obj.insert(to.into(), Value::from(new));
        changed = true;
    }
    Ok(changed.then(|| Value::Array(list).to_string()))
}

/// Every estimate's (id, taxes), a page at a time, after `after`.
async fn page(m: &SchemaManager<'_>, after: i64) -> Result<Vec<(i64, String)>, DbErr> {
    let db = m.get_connection();
    let q = Query::select()
        .columns([Estimates::Id, Estimates::Taxes])
        .from(Estimates::Table)
        .and_where(Expr::col(Estimates::Id).gt(after))
        .order_by(Estimates::Id, Order::Asc)
        .limit(PAGE)
        .to_owned();
    let rows = db.query_all(db.get_database_backend().build(&q)).await?;
    rows.iter().map(|r| Ok((r.try_get::<i64>("", "id")?, r.try_get::<String>("", "taxes")?))).collect()
}

/// Converts every estimate's rates; with `write` false, only checks that
/// every one can be converted.
async fn convert_all(m: &SchemaManager<'_>, dir: Direction, write: bool) -> Result<(), DbErr> {
    let db = m.get_connection();
    let mut after = 0;
    loop {
        let rows = page(m, after).await?;
        let Some(last) = rows.last().map(|r| r.0) else { return Ok(()) };
        for (id, taxes) in rows {
            let converted = convert(&taxes, dir).map_err(|why| DbErr::Migration(format!("estimate {id}: {why}")))?;
            if let (true, Some(json)) = (write, converted) {
                let u = Query::update()
                    .table(Estimates::Table)
                    .value(Estimates::Taxes, json)
                    .and_where(Expr::col(Estimates::Id).eq(id))
                    .to_owned();
                db.execute(db.get_database_backend().build(&u)).await?;
            }
        }
        after = last;
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        convert_all(m, Direction::Up, false).await?;
        convert_all(m, Direction::Up, true).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        convert_all(m, Direction::Down, false).await?;
        convert_all(m, Direction::Down, true).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basis_points_become_thousandths_of_a_percent_exactly_and_back() {
        let old =
            r#"[{"name":"Sales tax","rate_bp":825,"amount_minor":3032},{"name":"City","rate_bp":5,"amount_minor":18}]"#;
        let up = convert(old, Direction::Up).unwrap().unwrap();
        let v: Value = serde_json::from_str(&up).unwrap();
        assert_eq!((v[0]["rate_pcm"].as_i64(), v[1]["rate_pcm"].as_i64()), (Some(8250), Some(50)));
        assert!(v[0].get("rate_bp").is_none() && v[0]["name"] == "Sales tax" && v[0]["amount_minor"] == 3032);
        assert_eq!(convert(&up, Direction::Up).unwrap(), None, "a second run changes nothing");
        let down: Value = serde_json::from_str(&convert(&up, Direction::Down).unwrap().unwrap()).unwrap();
        assert_eq!(down, serde_json::from_str::<Value>(old).unwrap(), "lossless both ways");
        assert_eq!(convert("[]", Direction::Up).unwrap(), None);
    }

    #[test]
    fn a_rate_basis_points_cannot_hold_refuses_down_and_bad_json_is_named() {
        let nyc = r#"[{"name":"NYC sales tax","rate_pcm":8875,"amount_minor":5334}]"#;
        let why = convert(nyc, Direction::Down).unwrap_err();
        assert!(why.contains("NYC sales tax") && why.contains("8.875%"), "{why}");
        assert!(convert("not json", Direction::Up).is_err());
        assert!(convert(r#"[{"name":"x","rate_bp":"825"}]"#, Direction::Up).is_err());
    }
}
