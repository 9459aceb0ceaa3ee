//! Stock: locations, the append-only ledger and on-hand derived from it.
//!
//! A ledger entry (`records::stock_entry`) or, later, a contact's kit line
//! becomes *movements*: one change of one item's quantity at one location.
//! On-hand per location and item is the sum of its movements, kept in a
//! row of its own by the transaction that books them ([`ledger::book`]), so
//! reading it is one index probe whatever the ledger's length.
//!
//! A stocktake is a count at a moment: what the ledger held then is
//! replaced by what was counted. Phones sync late, so a movement can arrive
//! after a stocktake that happened later than it: the count already held
//! it, and the ledger books a correction of the opposite sign, absorbed by
//! that stocktake. On-hand stays exact whatever order entries arrive in.

pub mod ledger;

use crate::records::reference::catalogue::Catalogue;

/// What `quantity` of `code` moves in stock: `(item, quantity)`, a pack's
/// components for a pack.
pub fn expand(catalogue: &Catalogue, code: &str, quantity: i64) -> Vec<(String, i64)> {
    let components = catalogue.pack_components(code);
    if components.is_empty() {
        vec![(code.to_owned(), quantity)]
    } else {
        components.iter().map(|(c, q)| (c.clone(), i64::from(*q) * quantity)).collect()
    }
}
