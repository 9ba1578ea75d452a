//! The shop's look on the chat page and the widget: an accent colour made readable (WCAG AA),
//! a logo checked before it is kept, a title, the widget's side and launcher label, and the
//! visitor language an agent falls back to.
//!
//! An agent has a [`Look`]; a widget app may override any part of it. What pages get is the
//! merged [`Shown`] look, with a [`Palette`] for the light and the dark theme.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::i18n::Lang;

/// The accent every shop starts with.
pub const DEFAULT_ACCENT: Rgb = Rgb(0x1d, 0x4e, 0xd8);
/// WCAG 2 AA for normal text.
pub const MIN_CONTRAST: f64 = 4.5;
/// Logos are shown at most 64 px tall; anything this size is plenty on any screen.
pub const MAX_LOGO_BYTES: usize = 256 * 1024;
pub const MAX_LOGO_SIDE: u32 = 1024;
pub const MIN_LOGO_SIDE: u32 = 16;
pub const MAX_TITLE_CHARS: usize = 60;
pub const MAX_LAUNCHER_CHARS: usize = 24;

// What text and links sit on in each theme (chat.css and widget.js use the same colours).
const LIGHT_SURFACE: Rgb = Rgb(0xff, 0xff, 0xff);
const DARK_SURFACE: Rgb = Rgb(0x23, 0x27, 0x2d);
const WHITE: Rgb = Rgb(0xff, 0xff, 0xff);
const NEAR_BLACK: Rgb = Rgb(0x11, 0x13, 0x16);

/// An sRGB colour, written `#rrggbb`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rgb(pub u8, pub u8, pub u8);

impl Rgb {
    /// `#1d4ed8`, `1d4ed8` or `#15d`; anything else is a clear error.
    pub fn parse(raw: &str) -> Result<Rgb> {
        let hex = raw.trim().trim_start_matches('#');
        let bad = || Error::invalid(format!("{raw:?} is not a colour: write it like #1d4ed8"));
        if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad());
        }
        let digit = |i: usize, len: usize| {
            u8::from_str_radix(&hex[i * len..(i + 1) * len], 16).map_err(|_| bad())
        };
        match hex.len() {
            6 => Ok(Rgb(digit(0, 2)?, digit(1, 2)?, digit(2, 2)?)),
            3 => Ok(Rgb(digit(0, 1)? * 17, digit(1, 1)? * 17, digit(2, 1)? * 17)),
            _ => Err(bad()),
        }
    }

    pub fn hex(self) -> String {
        format!("#{:02x}{:02x}{:02x}", self.0, self.1, self.2)
    }

    /// WCAG relative luminance.
    pub fn luminance(self) -> f64 {
        let lin = |c: u8| {
            let c = f64::from(c) / 255.0;
            if c <= 0.04045 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * lin(self.0) + 0.7152 * lin(self.1) + 0.0722 * lin(self.2)
    }

    /// WCAG contrast ratio, 1 to 21.
    pub fn contrast(self, other: Rgb) -> f64 {
        let (a, b) = (self.luminance(), other.luminance());
        (a.max(b) + 0.05) / (a.min(b) + 0.05)
    }

    /// `t` of the way from this colour to `to` (keeps the hue while darkening or lightening).
    fn mix(self, to: Rgb, t: f64) -> Rgb {
        let m = |a: u8, b: u8| (f64::from(a) + (f64::from(b) - f64::from(a)) * t).round() as u8;
        Rgb(m(self.0, to.0), m(self.1, to.1), m(self.2, to.2))
    }

    /// The nearest colour toward `to` that has `MIN_CONTRAST` against `against`.
    fn readable_on(self, against: Rgb, to: Rgb) -> Rgb {
        (0..=40)
            .map(|step| self.mix(to, f64::from(step) / 40.0))
            .find(|c| c.contrast(against) >= MIN_CONTRAST)
            .unwrap_or(to)
    }
}

impl Serialize for Rgb {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.hex())
    }
}

impl<'de> Deserialize<'de> for Rgb {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Rgb, D::Error> {
        let s = String::deserialize(d)?;
        Rgb::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// The accent as each theme uses it: as the visitor's bubble and buttons (with `on_*` text on
/// it) and as link colour on the reply bubbles. Both pairs meet [`MIN_CONTRAST`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Palette {
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub accent: Rgb,
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub on_accent: Rgb,
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub accent_dark: Rgb,
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub on_accent_dark: Rgb,
    /// The owner's colour had to change to stay readable in the light theme.
    pub adjusted: bool,
}

impl Palette {
    /// The light theme darkens a faint colour until white text on it, and it on white, is
    /// readable; the dark theme lightens it until it reads on the dark bubbles, with dark text.
    pub fn of(accent: Rgb) -> Palette {
        let light = accent.readable_on(LIGHT_SURFACE, NEAR_BLACK);
        let dark = accent.readable_on(DARK_SURFACE, WHITE);
        let on_dark = if dark.contrast(WHITE) >= dark.contrast(NEAR_BLACK) {
            WHITE
        } else {
            NEAR_BLACK
        };
        Palette {
            accent: light,
            on_accent: WHITE,
            accent_dark: dark,
            on_accent_dark: on_dark,
            adjusted: light != accent,
        }
    }

    /// CSS custom properties for the page's and the widget's stylesheets.
    pub fn css(&self) -> String {
        format!(
            "--accent:{};--on-accent:{};--focus:{}",
            self.accent.hex(),
            self.on_accent.hex(),
            self.accent.hex()
        )
    }

    pub fn css_dark(&self) -> String {
        format!(
            "--accent:{};--on-accent:{};--focus:{}",
            self.accent_dark.hex(),
            self.on_accent_dark.hex(),
            self.accent_dark.hex()
        )
    }
}

/// Where the widget's bubble sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum Side {
    Left,
    #[default]
    Right,
}

/// An agent's look, or a widget app's overrides of it: every part optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Look {
    #[cfg_attr(feature = "ts", ts(type = "string | null"))]
    pub accent: Option<Rgb>,
    /// A [`LogoId`] of a stored image.
    pub logo: Option<String>,
    pub title: Option<String>,
    pub side: Option<Side>,
    pub launcher: Option<String>,
    /// The language of visitors whose browser asks for none a catalog ships for.
    pub language: Option<Lang>,
}

impl Look {
    /// Checks what an owner typed: a title and launcher label within bounds, no control
    /// characters; blank texts are stored as none.
    pub fn checked(mut self) -> Result<Look> {
        self.title = text(self.title, "title", MAX_TITLE_CHARS)?;
        self.launcher = text(self.launcher, "launcher label", MAX_LAUNCHER_CHARS)?;
        if let Some(logo) = &self.logo
            && !is_logo_id(logo)
        {
            return Err(Error::invalid("that is not a logo this computer stored"));
        }
        Ok(self)
    }

    /// This look with `over`'s parts where it has them.
    pub fn under(&self, over: &Look) -> Look {
        Look {
            accent: over.accent.or(self.accent),
            logo: over.logo.clone().or_else(|| self.logo.clone()),
            title: over.title.clone().or_else(|| self.title.clone()),
            side: over.side.or(self.side),
            launcher: over.launcher.clone().or_else(|| self.launcher.clone()),
            language: over.language.or(self.language),
        }
    }

    /// The look a page shows: defaults filled in, `name` as the title when none is set.
    pub fn shown(&self, name: &str) -> Shown {
        Shown {
            title: self.title.clone().unwrap_or_else(|| name.to_owned()),
            palette: Palette::of(self.accent.unwrap_or(DEFAULT_ACCENT)),
            logo: self.logo.as_ref().map(|id| format!("/logo/{id}")),
            side: self.side.unwrap_or_default(),
            launcher: self.launcher.clone(),
            language: self.language.unwrap_or_default(),
        }
    }
}

fn text(value: Option<String>, what: &str, max: usize) -> Result<Option<String>> {
    let Some(v) = value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if v.chars().count() > max || v.chars().any(char::is_control) {
        return Err(Error::invalid(format!(
            "the {what} must be at most {max} characters on one line"
        )));
    }
    Ok(Some(v))
}

/// What the chat page and the widget show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Shown {
    pub title: String,
    pub palette: Palette,
    /// Path of the logo on this server (`/logo/<id>`).
    pub logo: Option<String>,
    pub side: Side,
    pub launcher: Option<String>,
    pub language: Lang,
}

/// An image format a logo may have. SVG is refused: it can carry script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageKind {
    Png,
    Jpeg,
    Webp,
}

impl ImageKind {
    pub fn mime(self) -> &'static str {
        match self {
            ImageKind::Png => "image/png",
            ImageKind::Jpeg => "image/jpeg",
            ImageKind::Webp => "image/webp",
        }
    }

    pub fn from_mime(mime: &str) -> Option<ImageKind> {
        [ImageKind::Png, ImageKind::Jpeg, ImageKind::Webp]
            .into_iter()
            .find(|k| k.mime() == mime)
    }
}

/// A checked logo, named by its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logo {
    pub id: String,
    pub kind: ImageKind,
    pub width: u32,
    pub height: u32,
    pub bytes: Vec<u8>,
}

/// A logo's id: the first 16 bytes of its SHA-256, in hex. Content-addressed, so its URL can be
/// cached for ever and the same image uploaded twice is stored once.
pub fn is_logo_id(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Checks an uploaded image: PNG, JPEG or WebP by its bytes (not its name), within the size and
/// side caps.
pub fn check_logo(bytes: Vec<u8>) -> Result<Logo> {
    if bytes.len() > MAX_LOGO_BYTES {
        return Err(Error::invalid(format!(
            "the logo is {} KiB; at most {} KiB, please (a 512×512 PNG or JPEG is plenty)",
            bytes.len() / 1024,
            MAX_LOGO_BYTES / 1024
        )));
    }
    let kind = match imagesize::image_type(&bytes) {
        Ok(imagesize::ImageType::Png) => ImageKind::Png,
        Ok(imagesize::ImageType::Jpeg) => ImageKind::Jpeg,
        Ok(imagesize::ImageType::Webp) => ImageKind::Webp,
        _ => {
            return Err(Error::invalid(
                "the logo must be a PNG, JPEG or WebP image (SVG and other formats are not accepted)",
            ));
        }
    };
    let size = imagesize::blob_size(&bytes)
        .map_err(|_| Error::invalid("the logo's image data is damaged or incomplete"))?;
    let (width, height) = (
        u32::try_from(size.width).unwrap_or(u32::MAX),
        u32::try_from(size.height).unwrap_or(u32::MAX),
    );
    let sides = MIN_LOGO_SIDE..=MAX_LOGO_SIDE;
    if !sides.contains(&width) || !sides.contains(&height) {
        return Err(Error::invalid(format!(
            "the logo is {width}×{height} pixels; each side must be {MIN_LOGO_SIDE} to {MAX_LOGO_SIDE}"
        )));
    }
    let digest = Sha256::digest(&bytes);
    let id = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    Ok(Logo {
        id,
        kind,
        width,
        height,
        bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_parse_or_fail_clearly() {
        assert_eq!(Rgb::parse("#1D4ED8").expect("hex"), Rgb(0x1d, 0x4e, 0xd8));
        assert_eq!(Rgb::parse("f0a").expect("short"), Rgb(0xff, 0x00, 0xaa));
        for bad in ["", "#12345", "red", "#ggg", "#1d4ed8;}", "#１２３"] {
            assert_eq!(Rgb::parse(bad).expect_err(bad).code(), "invalid_input");
        }
    }

    #[test]
    fn a_faint_colour_is_darkened_until_it_reads_and_a_strong_one_is_kept() {
        let yellow = Palette::of(Rgb::parse("#ffee00").expect("yellow"));
        assert!(yellow.adjusted);
        assert!(yellow.accent.contrast(WHITE) >= MIN_CONTRAST, "{yellow:?}");
        assert!(yellow.accent.contrast(LIGHT_SURFACE) >= MIN_CONTRAST);
        assert!(yellow.accent_dark.contrast(DARK_SURFACE) >= MIN_CONTRAST);
        assert!(yellow.accent_dark.contrast(yellow.on_accent_dark) >= MIN_CONTRAST);
        let blue = Palette::of(DEFAULT_ACCENT);
        assert!(!blue.adjusted);
        assert_eq!(blue.accent, DEFAULT_ACCENT);
    }

    proptest::proptest! {
        /// Whatever colour an owner picks, both themes end up readable.
        #[test]
        fn every_colour_ends_readable(r in 0u8..=255, g in 0u8..=255, b in 0u8..=255) {
            let p = Palette::of(Rgb(r, g, b));
            proptest::prop_assert!(p.accent.contrast(p.on_accent) >= MIN_CONTRAST);
            proptest::prop_assert!(p.accent.contrast(LIGHT_SURFACE) >= MIN_CONTRAST);
            proptest::prop_assert!(p.accent_dark.contrast(DARK_SURFACE) >= MIN_CONTRAST);
            proptest::prop_assert!(p.accent_dark.contrast(p.on_accent_dark) >= MIN_CONTRAST);
        }
    }

    #[test]
    fn an_app_overrides_only_what_it_sets() {
        let agent = Look {
            accent: Some(Rgb(1, 2, 3)),
            title: Some("Rosie's".into()),
            side: Some(Side::Left),
            ..Look::default()
        };
        let app = Look {
            title: Some("Rosie's online".into()),
            ..Look::default()
        };
        let merged = agent.under(&app);
        assert_eq!(merged.title.as_deref(), Some("Rosie's online"));
        assert_eq!((merged.accent, merged.side), (agent.accent, agent.side));
        let shown = Look::default().shown("Bakery");
        assert_eq!((shown.title.as_str(), shown.side), ("Bakery", Side::Right));
    }

    #[test]
    fn texts_are_bounded_and_blank_is_none() {
        let look = Look {
            title: Some("   ".into()),
            launcher: Some(" Chat with us ".into()),
            ..Look::default()
        }
        .checked()
        .expect("fine");
        assert_eq!(look.title, None);
        assert_eq!(look.launcher.as_deref(), Some("Chat with us"));
        let long = Look {
            launcher: Some("x".repeat(MAX_LAUNCHER_CHARS + 1)),
            ..Look::default()
        };
        assert_eq!(long.checked().expect_err("long").code(), "invalid_input");
        let bad_logo = Look {
            logo: Some("../etc/passwd".into()),
            ..Look::default()
        };
        assert!(bad_logo.checked().is_err());
    }

    fn logo_png(w: u32, h: u32) -> Vec<u8> {
        chatlink_test_support::logo_png(w, h, [200, 200, 200])
    }

    #[test]
    fn logos_are_checked_by_their_bytes() {
        let logo = check_logo(logo_png(64, 32)).expect("a small PNG");
        assert_eq!(
            (logo.kind, logo.width, logo.height),
            (ImageKind::Png, 64, 32)
        );
        assert!(is_logo_id(&logo.id));
        let svg = br#"<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"></svg>"#.to_vec();
        assert_eq!(check_logo(svg).expect_err("svg").code(), "invalid_input");
        assert!(check_logo(logo_png(8, 8)).is_err(), "too small");
        assert!(check_logo(logo_png(2000, 20)).is_err(), "too wide");
        assert!(
            check_logo(vec![0; MAX_LOGO_BYTES + 1]).is_err(),
            "too large"
        );
        let mut cut = logo_png(64, 64);
        cut.truncate(12);
        assert!(check_logo(cut).is_err(), "damaged");
    }
}
