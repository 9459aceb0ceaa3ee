//! [`declare_fields!`](crate::declare_fields): a record kind's fields,
//! declared once, one line each (with its doc), and from that line its
//! checked [`FieldSpec`](super::fields::FieldSpec), its place in the typed
//! request bodies (the push's `fields`, the REST create body with its `id`,
//! the REST and push update body) and, through the spec, in the schema a
//! generated client compiles against.
//!
//! A field line is `name: mode Type = check, modifier, ...;` (`= check`
//! left out when the type knows its own: `Text<MAX>`, the vocabularies,
//! `bool`) where
//! - `mode` says what a create and an update do with it:
//!   `required` (a create must carry it; an update may change it),
//!   `optional` (a create may leave it out; `null` there is the same as
//!   absent, and on an update leaves it as it is), `nullable` (may be
//!   left out or cleared with `null`), `fixed_required` and
//!   `fixed_optional` (set by the create, never by an update) and
//!   `push_required` (required, carried by a push's fields but taken from
//!   the path by REST: a step's referral);
//! - `Type` is the field's type on the wire (the body wraps it in `Option`
//!   or `MaybeUndefined` as the mode says);
//! - `check` validates and canonicalises the value against the batch;
//! - the modifiers are [`FieldSpec`](super::fields::FieldSpec)'s builders:
//!   `json`, `or("...")`, `restricted`, `own_table`.
//!
//! Attributes on a line (`#[oai(...)]`) go onto the body fields.

/// Declares a record kind's fields; see the [module](self).
#[macro_export]
macro_rules! declare_fields {
    (
        $(#[$specs_doc:meta])*
        specs $specs:ident;
        $(#[$create_doc:meta])*
        create $rest:ident, push $push:ident;
        $( $(#[$update_doc:meta])* update $update:ident; )?
        fields $fields:tt
    ) => {
        $crate::declare_fields!(@open $fields @specs [$(#[$specs_doc])* $specs] []);
        $crate::declare_fields!(@open $fields @create [$(#[$create_doc])* $rest $push] [] []);
        $(
            $crate::declare_fields!(@open $fields @update [$(#[$update_doc])* $update] []);
        )?
    };
    (@open { $($fields:tt)* } @$step:ident $($args:tt)*) => {
        $crate::declare_fields!(@$step $($args)* $($fields)*);
    };

    // The field specs, in declaration order.
    (@specs [$(#[$doc:meta])* $specs:ident] [$($acc:tt)*]) => {
        $(#[$doc])*
        pub const $specs: &[$crate::records::fields::FieldSpec] = &[$($acc)*];
    };
    (@specs $head:tt [$($acc:tt)*]
        $(#[$meta:meta])* $f:ident : $mode:ident $t:ty $(= $check:expr)?
        $(, $m:ident $(($($arg:tt)*))?)* ; $($rest:tt)*
    ) => {
        $crate::declare_fields!(@specs $head [$($acc)*
            $crate::declare_fields!(@spec $mode stringify!($f),
                $crate::declare_fields!(@check $t $(, $check)?)) $(.$m($($($arg)*)?))*,
        ] $($rest)*);
    };
    (@check $t:ty, $check:expr) => { $check };
    (@check $t:ty) => { <$t as $crate::records::fields::FieldValue>::check };
    (@spec required $name:expr, $check:expr) => {
        $crate::records::fields::FieldSpec::required($name, $check)
    };
    (@spec push_required $name:expr, $check:expr) => {
        $crate::records::fields::FieldSpec::required($name, $check)
    };
    (@spec optional $name:expr, $check:expr) => {
        $crate::records::fields::FieldSpec::optional($name, $check)
    };
    (@spec nullable $name:expr, $check:expr) => {
        $crate::records::fields::FieldSpec::optional($name, $check).nullable()
    };
    (@spec fixed_required $name:expr, $check:expr) => {
        $crate::records::fields::FieldSpec::required($name, $check).fixed()
    };
    (@spec fixed_optional $name:expr, $check:expr) => {
        $crate::records::fields::FieldSpec::optional($name, $check).fixed()
    };

    // The create bodies: the push's fields (push-only fields first) and the
    // REST body with the client-generated id.
    (@create [$(#[$doc:meta])* $rest:ident $push:ident] [$($push_only:tt)*] [$($acc:tt)*]) => {
        $(#[$doc])*
        #[derive(poem_openapi::Object)]
        #[oai(deny_unknown_fields)]
        pub struct $push { $($push_only)* $($acc)* }

        $(#[$doc])*
        #[derive(poem_openapi::Object)]
        #[oai(deny_unknown_fields)]
        pub struct $rest {
            /// The record's id: a UUID v7 the client generates. Sending the
            /// same id again answers the stored record (200) instead of
            /// creating another.
            pub id: uuid::Uuid,
            $($acc)*
        }
    };
    (@create $head:tt $push_only:tt $acc:tt
        $(#[$meta:meta])* $f:ident : $mode:ident $t:ty $(= $check:expr)?
        $(, $m:ident $(($($arg:tt)*))?)* ; $($rest:tt)*
    ) => {
        $crate::declare_fields!(@create_field $mode $head $push_only $acc
            [$(#[$meta])*] $f [$t] $($rest)*);
    };
    (@create_field push_required $head:tt [$($push_only:tt)*] $acc:tt
        [$($meta:tt)*] $f:ident [$t:ty] $($rest:tt)*
    ) => {
        $crate::declare_fields!(@create $head [$($push_only)* $($meta)* pub $f: $t,] $acc
            $($rest)*);
    };
    (@create_field required $head:tt $push_only:tt [$($acc:tt)*]
        [$($meta:tt)*] $f:ident [$t:ty] $($rest:tt)*
    ) => {
        $crate::declare_fields!(@create $head $push_only [$($acc)* $($meta)* pub $f: $t,]
            $($rest)*);
    };
    (@create_field fixed_required $($rest:tt)*) => {
        $crate::declare_fields!(@create_field required $($rest)*);
    };
    (@create_field $mode:ident $head:tt $push_only:tt [$($acc:tt)*]
        [$($meta:tt)*] $f:ident [$t:ty] $($rest:tt)*
    ) => {
        $crate::declare_fields!(@create $head $push_only [$($acc)*
            $($meta)* #[oai(nullable)] pub $f: Option<$t>,
        ] $($rest)*);
    };

    // The update body: every field an update may change; absent ones stay.
    (@update [$(#[$doc:meta])* $update:ident] [$($acc:tt)*]) => {
        $(#[$doc])*
        #[derive(poem_openapi::Object)]
        #[oai(deny_unknown_fields)]
        pub struct $update { $($acc)* }
    };
    (@update $head:tt $acc:tt
        $(#[$meta:meta])* $f:ident : $mode:ident $t:ty $(= $check:expr)?
        $(, $m:ident $(($($arg:tt)*))?)* ; $($rest:tt)*
    ) => {
        $crate::declare_fields!(@update_field $mode $head $acc [$(#[$meta])*] $f [$t] $($rest)*);
    };
    (@update_field nullable $head:tt [$($acc:tt)*] [$($meta:tt)*] $f:ident [$t:ty]
        $($rest:tt)*
    ) => {
        $crate::declare_fields!(@update $head [$($acc)*
            $($meta)* #[oai(nullable)] pub $f: poem_openapi::types::MaybeUndefined<$t>,
        ] $($rest)*);
    };
    // A field a create must carry is, on an update, one it may leave out.
    (@update_field required $($rest:tt)*) => {
        $crate::declare_fields!(@update_field optional $($rest)*);
    };
    (@update_field optional $head:tt [$($acc:tt)*] [$($meta:tt)*] $f:ident [$t:ty]
        $($rest:tt)*
    ) => {
        $crate::declare_fields!(@update $head [$($acc)*
            $($meta)* #[doc = ""] #[doc = "`null` leaves it as it is."]
            #[oai(nullable, skip_serializing_if_is_none)] pub $f: Option<$t>,
        ] $($rest)*);
    };
    // Set by the create only (and push-only fields, which are never edited).
    (@update_field $mode:ident $head:tt $acc:tt $meta:tt $f:ident $t:tt $($rest:tt)*) => {
        $crate::declare_fields!(@update $head $acc $($rest)*);
    };
}
