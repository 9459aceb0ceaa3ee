//! Payloads whose schema poem-openapi cannot derive (a `oneOf` with a
//! discriminator built from a table, a union of views without a tag) write
//! their schema themselves; [`named_type!`] gives such a type the rest of
//! `poem_openapi::types::Type`, which is the same for all of them.

/// Implements `Type` for `$ty`, a required payload named `$name` in the
/// spec, whose schema `$register` (a `fn(&mut Registry)`) writes under
/// that name. The type still implements `ParseFromJSON` and `ToJSON`.
macro_rules! named_type {
    ($ty:ty, $name:literal, $register:path) => {
        impl poem_openapi::types::Type for $ty {
            const IS_REQUIRED: bool = true;
            type RawValueType = Self;
            type RawElementValueType = Self;

            fn name() -> std::borrow::Cow<'static, str> {
                $name.into()
            }

            fn schema_ref() -> poem_openapi::registry::MetaSchemaRef {
                poem_openapi::registry::MetaSchemaRef::Reference($name.to_owned())
            }

            fn register(registry: &mut poem_openapi::registry::Registry) {
                $register(registry)
            }

            fn as_raw_value(&self) -> Option<&Self> {
                Some(self)
            }

            fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self> + 'a> {
                Box::new(std::iter::once(self))
            }
        }
    };
}
pub(crate) use named_type;
