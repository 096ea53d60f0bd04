//! How the layers of the settings combine, and the check of a count: a leaf of the
//! configuration, below every room that reads a setting.
//!
//! Each concern struct is declared through [`concern!`], which writes the struct as given and
//! one [`Layer`] implementation merging it field by field, so a new setting is one field and
//! its merge comes with it. A declarative macro rather than the `merge` crate's derive: the
//! three ways a field merges are the three impls below, which a proc-macro dependency would not
//! shorten, and a field of a type with no impl is a compile error either way.

use crate::error::{Error, Result};

/// A setting (or a concern's struct of settings) from its two layers: the flag's, over which
/// clap has already put its environment variable, over the file's. A concern's defaults are
/// applied where its values are checked, the one place each default is used.
pub(super) trait Layer {
    /// `self` (the flag's layer) over `file`.
    fn over(&self, file: &Self) -> Self;
}

/// A value: the flag's, else the file's.
impl<T: Clone> Layer for Option<T> {
    fn over(&self, file: &Self) -> Self {
        self.clone().or_else(|| file.clone())
    }
}

/// A switch: on when the flag (or its environment variable) or the file turns it on; a flag
/// cannot turn off what the file turns on.
impl Layer for bool {
    fn over(&self, file: &Self) -> Self {
        *self || *file
    }
}

/// A list: the flag's when it names any, else the file's (the two are never joined, so a flag
/// replaces what the file lists).
impl<T: Clone> Layer for Vec<T> {
    fn over(&self, file: &Self) -> Self {
        if self.is_empty() {
            file.clone()
        } else {
            self.clone()
        }
    }
}

/// Declares a concern's struct of settings (its attributes, clap's and serde's derives, its
/// fields as written) and its [`Layer`] merge, one field at a time.
macro_rules! concern {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $( $(#[$field_meta:meta])* $field_vis:vis $field:ident : $ty:ty ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        $vis struct $name {
            $( $(#[$field_meta])* $field_vis $field : $ty ),*
        }

        impl $crate::config::layer::Layer for $name {
            fn over(&self, file: &Self) -> Self {
                Self { $( $field: $crate::config::layer::Layer::over(&self.$field, &file.$field) ),* }
            }
        }
    };
}
pub(super) use concern;

/// The check of a count: at least 1.
pub(super) fn positive(v: u32, what: &str) -> Result<u32> {
    if v == 0 {
        return Err(Error::Config(format!("{what} must be at least 1")));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::Layer;

    #[test]
    fn a_flag_wins_over_the_file_and_the_file_fills_what_the_flag_leaves_out() {
        assert_eq!(Some(1).over(&Some(2)), Some(1));
        assert_eq!(None.over(&Some(2)), Some(2));
        assert_eq!(None::<u32>.over(&None), None);
        assert!(false.over(&true) && true.over(&false) && !false.over(&false));
        assert_eq!(vec![1].over(&vec![2, 3]), vec![1]);
        assert_eq!(Vec::<u32>::new().over(&vec![2, 3]), vec![2, 3]);
    }
}
