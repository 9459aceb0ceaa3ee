//! Value checks shared by several record types: references to the
//! organisation's sites, staff, people and reference data.

use serde_json::{Map, Value};

use super::{
    context::BatchContext,
    fields::{Rejection, RejectionCode, array, object, only_keys, text, uuid},
    vocab::KnownBy,
};

/// An active site of the organisation. (Workers may record at any site,
/// covering a shift elsewhere: they are the recorder and keep seeing it.
/// Moving an existing referral is narrower: see `sync::apply`.)
pub fn site_id(field: &str, value: &Value, ctx: &BatchContext) -> Result<Value, Rejection> {
    let id = uuid(field, value)?;
    if ctx.sites.contains(&id) {
        Ok(Value::String(id.to_string()))
    } else {
        Err(Rejection::new(RejectionCode::UnknownReference, Some(field), "no such active site"))
    }
}

/// An active stock location the writer may see (at one of their sites, or
/// any for managers and admins).
pub fn stock_location_id(
    field: &str,
    value: &Value,
    ctx: &BatchContext,
) -> Result<Value, Rejection> {
    let id = uuid(field, value)?;
    match ctx.stock_locations.get(&id) {
        Some(site) if ctx.actor.may_see(Some(*site), None) => Ok(Value::String(id.to_string())),
        _ => Err(Rejection::new(
            RejectionCode::UnknownReference,
            Some(field),
            "no such active stock location at your sites",
        )),
    }
}

/// A person of the organisation (not deleted), perhaps created earlier in
/// the same batch.
pub fn person_id(field: &str, value: &Value, ctx: &BatchContext) -> Result<Value, Rejection> {
    let id = uuid(field, value)?;
    if ctx.persons.contains(&id) {
        Ok(Value::String(id.to_string()))
    } else {
        Err(Rejection::new(RejectionCode::UnknownReference, Some(field), "no such person"))
    }
}

/// A partner service of the organisation.
pub fn partner_service_id(
    field: &str,
    value: &Value,
    ctx: &BatchContext,
) -> Result<Value, Rejection> {
    let id = uuid(field, value)?;
    if ctx.catalogue.has_partner_service(id) {
        Ok(Value::String(id.to_string()))
    } else {
        Err(Rejection::new(RejectionCode::UnknownReference, Some(field), "no such partner service"))
    }
}

/// A list of staff ids of the organisation, without repeats.
pub fn worker_ids(field: &str, value: &Value, ctx: &BatchContext) -> Result<Value, Rejection> {
    let mut out = Vec::new();
    for (i, item) in array(field, value, 20)?.iter().enumerate() {
        let at = format!("{field}[{i}]");
        let id = uuid(&at, item)?;
        if !ctx.users.contains(&id) {
            return Err(Rejection::new(
                RejectionCode::UnknownReference,
                Some(&at),
                "no such staff member",
            ));
        }
        let id = Value::String(id.to_string());
        if !out.contains(&id) {
            out.push(id);
        }
    }
    Ok(Value::Array(out))
}

/// A substance code or street name, mapped onto the organisation's code
/// ("Spice" becomes `synthetic_cannabinoid`), so reports can count it.
pub fn substance(field: &str, value: &Value, ctx: &BatchContext) -> Result<Value, Rejection> {
    let name = value.as_str().ok_or_else(|| Rejection::invalid(field, "must be a string"))?;
    ctx.catalogue.substance_code(name).map(|c| Value::String(c.to_owned())).ok_or_else(|| {
        Rejection::new(
            RejectionCode::UnknownSubstance,
            Some(field),
            format!("`{name}` is neither a substance code nor a known street name"),
        )
    })
}

/// A list of substance codes or street names, mapped onto codes.
pub fn substance_list(field: &str, value: &Value, ctx: &BatchContext) -> Result<Value, Rejection> {
    let mut out = Vec::new();
    for (i, item) in array(field, value, 20)?.iter().enumerate() {
        let code = substance(&format!("{field}[{i}]"), item, ctx)?;
        if !out.contains(&code) {
            out.push(code);
        }
    }
    Ok(Value::Array(out))
}

/// Substances with how each is known: `[{substance, known_by}]`.
pub fn substances_known(
    field: &str,
    value: &Value,
    ctx: &BatchContext,
) -> Result<Value, Rejection> {
    let mut out: Vec<Value> = Vec::new();
    for (i, item) in array(field, value, 20)?.iter().enumerate() {
        let at = format!("{field}[{i}]");
        let entry = object(&at, item)?;
        only_keys(&at, entry, &["substance", "known_by"])?;
        let substance = substance(
            &format!("{at}.substance"),
            entry.get("substance").unwrap_or(&Value::Null),
            ctx,
        )?;
        let known_by =
            entry.get("known_by").cloned().unwrap_or(Value::String("self_reported".into()));
        super::fields::code::<KnownBy>(&format!("{at}.known_by"), &known_by)?;
        // Two names of one substance ("Spice" and "Mamba") are one
        // substance: they collapse into its code, known by the stronger
        // of the two ways.
        if let Some(seen) = out.iter_mut().find(|o| o.get("substance") == Some(&substance)) {
            if strength(&known_by) > seen.get("known_by").map_or(0, strength) {
                seen["known_by"] = known_by;
            }
            continue;
        }
        let mut canonical = Map::new();
        canonical.insert("substance".into(), substance);
        canonical.insert("known_by".into(), known_by);
        out.push(Value::Object(canonical));
    }
    Ok(Value::Array(out))
}

/// How strong a `known_by` is: confirmed over observed over self-reported.
fn strength(known_by: &Value) -> u8 {
    match known_by.as_str() {
        Some("confirmed") => 2,
        Some("observed") => 1,
        _ => 0,
    }
}

/// A broad, approximate location (never more precise than it needs to be).
pub fn location_area(field: &str, value: &Value, _ctx: &BatchContext) -> Result<Value, Rejection> {
    text(field, value, 100)
}

/// A free-text note.
pub fn note(field: &str, value: &Value, _ctx: &BatchContext) -> Result<Value, Rejection> {
    text(field, value, 4000)
}

/// An RFC 3339 time, not more than a day ahead of the server (device clocks
/// drift, but not by days).
pub fn occurred_at(field: &str, value: &Value, ctx: &BatchContext) -> Result<Value, Rejection> {
    let at = super::fields::timestamp(field, value)?;
    if at > ctx.now + chrono::Duration::days(1) {
        return Err(Rejection::invalid(field, "is more than a day in the future"));
    }
    Ok(Value::String(at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)))
}
