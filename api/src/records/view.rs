//! [`declare_view!`](crate::declare_view): a record's view (what `GET` and
//! the pull show), declared as its fields only. Each field is read from
//! the row's column of the same name through [`FromStored`]: as it is, a
//! vocabulary from its stored code, a list from its JSON text. A field not
//! read from the row says its value (`= expr`).

use serde::de::DeserializeOwned;

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

/// Declares a view and its `From<Model>`; see the [module](self).
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
    };
    (@value $model:ident $f:ident) => {
        $crate::records::view::FromStored::from_stored($model.$f)
    };
    (@value $model:ident $f:ident $value:expr) => { $value };
}
