//! [`declare_view!`](crate::declare_view): a record's view (what `GET` and
//! the pull show), declared as its fields only. Each field is read from
//! the row's column of the same name through [`FromStored`]: as it is, a
//! vocabulary from its stored code, a list from its JSON text. A field not
//! read from the row says its value (`= expr`).
//!
//! A view also serialises straight to JSON text ([`WireJson`]), exactly
//! as its `ToJSON` would write it: a pull page of a thousand contacts is
//! written without building a `serde_json::Value` for each (that tree and
//! its copies were a third of the server's time in a full pull).

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Serialize, Serializer, de::DeserializeOwned};
use uuid::Uuid;

/// A view field made from the value its column stores.
pub trait FromStored<S> {
    /// The view's value.
    fn from_stored(stored: S) -> Self;
}

impl<T> FromStored<T> for T {
    fn from_stored(stored: T) -> T {
        stored
    }
}

/// A list stored as JSON text (only this server writes it; unreadable
/// text, never expected, shows as an empty list).
impl<T: DeserializeOwned> FromStored<String> for Vec<T> {
    fn from_stored(stored: String) -> Self {
        serde_json::from_str(&stored).unwrap_or_default()
    }
}

/// A view field as the API writes it; the same JSON as its `ToJSON`.
pub trait WireJson {
    /// Writes the value.
    fn write<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error>;
}

/// Serialises a view field through [`WireJson`].
pub struct Wire<'a, T: ?Sized>(pub &'a T);

impl<T: WireJson + ?Sized> Serialize for Wire<'_, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.write(serializer)
    }
}

/// Types whose serde form is already the API's.
macro_rules! wire_as_serde {
    ($($t:ty),* $(,)?) => {
        $(impl $crate::records::view::WireJson for $t {
            fn write<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serde::Serialize::serialize(self, serializer)
            }
        })*
    };
}
pub(crate) use wire_as_serde;

wire_as_serde!(bool, i16, i32, i64, String, Uuid, NaiveDate);

/// As poem-openapi writes it: RFC 3339 with `+00:00`.
impl WireJson for DateTime<Utc> {
    fn write<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_rfc3339())
    }
}

impl<T: WireJson> WireJson for Option<T> {
    fn write<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Some(value) => value.write(serializer),
            None => serializer.serialize_none(),
        }
    }
}

impl<T: WireJson> WireJson for Vec<T> {
    fn write<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter().map(Wire))
    }
}

/// Declares a view and its `From<Model>`; see the [module](self). Its
/// `Serialize` names each field as declared and writes every one, as the
/// derived `ToJSON` does: a field attribute that changes `ToJSON`'s output
/// (`#[oai(rename)]`, `skip_serializing_if_is_none`) would need the same
/// here, so fields take doc comments only (the records' tests compare the
/// two outputs).
#[macro_export]
macro_rules! declare_view {
    (
        $(#[$doc:meta])*
        pub struct $view:ident from $model:path {
            $( $(#[$field_doc:meta])* pub $f:ident : $t:ty $(= $value:expr)? , )*
        }
    ) => {
        $(#[$doc])*
        #[derive(poem_openapi::Object)]
        pub struct $view { $( $(#[$field_doc])* pub $f: $t, )* }

        impl From<$model> for $view {
            fn from(model: $model) -> Self {
                Self { $( $f: $crate::declare_view!(@value model $f $($value)?), )* }
            }
        }

        impl serde::Serialize for $view {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                use serde::ser::SerializeStruct;
                let fields = [$(stringify!($f)),*].len();
                let mut out = serializer.serialize_struct(stringify!($view), fields)?;
                $( out.serialize_field(stringify!($f), &$crate::records::view::Wire(&self.$f))?; )*
                out.end()
            }
        }

        impl $crate::records::view::WireJson for $view {
            fn write<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serde::Serialize::serialize(self, serializer)
            }
        }
    };
    (@value $model:ident $f:ident) => {
        $crate::records::view::FromStored::from_stored($model.$f)
    };
    (@value $model:ident $f:ident $value:expr) => { $value };
}
