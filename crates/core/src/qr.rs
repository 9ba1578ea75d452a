//! Link → QR code as PNG or SVG bytes, for flyers, counters and websites.

use qrcode::render::svg;
use qrcode::types::QrError;
use qrcode::{Color, EcLevel, QrCode};

use crate::error::{Error, Result};

/// Light modules around the code; the QR spec requires 4 for scanners to find it reliably.
const QUIET_ZONE: usize = 4;

/// Upper bound on `scale`: at 64 px per module the largest code (177 + 8 modules) is already
/// ~12k px square, far past anything a print or screen needs, and larger would only burn memory.
pub const MAX_SCALE: u32 = 64;

/// SVG user units per module. The viewBox makes the SVG scale freely, but browsers fall back to
/// the width/height attributes when a page gives no size, and 1 px per module would be too small
/// to scan off a screen.
const SVG_MODULE_PX: u32 = 8;

const BLACK: u8 = 0;
const WHITE: u8 = 255;

/// A PNG of `text` as a QR code: black on white, 8-bit grayscale, a 4-module quiet zone,
/// `scale` pixels per module (1..=64).
/// Pixels per QR module when nobody says otherwise: a 41×41 code comes out near 400 px, sharp in
/// print at flyer size.
pub const DEFAULT_SCALE: u32 = 8;

pub fn png(text: &str, scale: u32) -> Result<Vec<u8>> {
    if !(1..=MAX_SCALE).contains(&scale) {
        return Err(Error::invalid(format!(
            "QR scale must be between 1 and {MAX_SCALE} pixels per module, got {scale}"
        )));
    }
    let code = encode(text)?;
    let modules = code.width();
    let colors = code.to_colors();
    // `scale` ≤ 64 was checked above, so this widening can't truncate on any supported target.
    let scale = scale as usize;

    let side_modules = modules + 2 * QUIET_ZONE;
    let side_px = side_modules * scale;
    let side_px_u32 = u32::try_from(side_px)
        .map_err(|_| Error::Internal(format!("QR image side {side_px} px overflows u32")))?;

    // Each module row becomes one pixel row repeated `scale` times, so build it once and copy.
    let mut pixels = Vec::with_capacity(side_px * side_px);
    let quiet_rows = vec![WHITE; side_px * scale * QUIET_ZONE];
    pixels.extend_from_slice(&quiet_rows);
    let mut row = vec![WHITE; side_px];
    for module_row in colors.chunks_exact(modules) {
        for (x, color) in module_row.iter().enumerate() {
            let value = match color {
                Color::Dark => BLACK,
                Color::Light => WHITE,
            };
            let start = (QUIET_ZONE + x) * scale;
            row[start..start + scale].fill(value);
        }
        for _ in 0..scale {
            pixels.extend_from_slice(&row);
        }
    }
    pixels.extend_from_slice(&quiet_rows);

    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, side_px_u32, side_px_u32);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder
        .write_header()
        .map_err(|e| Error::Internal(format!("writing QR PNG header: {e}")))?;
    writer
        .write_image_data(&pixels)
        .map_err(|e| Error::Internal(format!("writing QR PNG data: {e}")))?;
    // Finishing explicitly surfaces the IEND write error that a plain drop would swallow.
    writer
        .finish()
        .map_err(|e| Error::Internal(format!("finishing QR PNG: {e}")))?;
    Ok(out)
}

/// A standalone SVG of `text` as a QR code: white background, black modules, a 4-module quiet
/// zone, `viewBox` so it scales to any size, and `crispEdges` so scaling never blurs modules.
pub fn svg(text: &str) -> Result<String> {
    let code = encode(text)?;
    Ok(code
        .render::<svg::Color<'_>>()
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .quiet_zone(true)
        .module_dimensions(SVG_MODULE_PX, SVG_MODULE_PX)
        .build())
}

fn encode(text: &str) -> Result<QrCode> {
    if text.is_empty() {
        return Err(Error::invalid("cannot make a QR code of empty text"));
    }
    // Level M survives ~15% damage (a smudged flyer, a glare on a screen) while keeping codes
    // for typical links small enough to scan from across a counter.
    QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M).map_err(|e| match e {
        QrError::DataTooLong => Error::invalid(format!(
            "text is too long for a QR code ({} bytes; at most 2331 fit at error-correction \
             level M, and fewer for non-ASCII text); use a shorter link",
            text.len()
        )),
        // Byte-mode input has no invalid characters, so anything else is a bug in this module
        // or in qrcode, not the caller's fault.
        other => Error::Internal(format!("QR encoding failed: {other}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    const LINK: &str = "http://127.0.0.1:8640/chat/AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_AbCdE/";

    /// A PNG produced by `png()` back to its text, the way a phone camera would; the format is
    /// checked too (8-bit greyscale), since that is what `png()` promises.
    fn decode_png(bytes: &[u8]) -> String {
        let info = png::Decoder::new(Cursor::new(bytes))
            .read_info()
            .expect("PNG header")
            .info()
            .clone();
        assert_eq!(info.color_type, png::ColorType::Grayscale);
        assert_eq!(info.bit_depth, png::BitDepth::Eight);
        chatlink_test_support::decode_qr_png(bytes)
    }

    #[test]
    fn png_round_trips_a_typical_link() {
        assert_eq!(LINK.len() - "http://127.0.0.1:8640/chat//".len(), 43);
        for scale in [2, 4, 10] {
            let bytes = png(LINK, scale).expect("png");
            assert_eq!(decode_png(&bytes), LINK, "scale {scale}");
        }
    }

    #[test]
    fn png_has_quiet_zone_and_scaled_size() {
        let scale = 3;
        let bytes = png(LINK, scale).expect("png");
        let modules = encode(LINK).expect("encode").width();
        let mut reader = png::Decoder::new(Cursor::new(&bytes))
            .read_info()
            .expect("PNG header");
        let side = ((modules + 2 * QUIET_ZONE) * scale as usize) as u32;
        assert_eq!(reader.info().size(), (side, side));

        let mut buf = vec![0; reader.output_buffer_size().expect("PNG fits in memory")];
        reader.next_frame(&mut buf).expect("PNG frame");
        let side = side as usize;
        let border = QUIET_ZONE * scale as usize;
        for y in 0..side {
            for x in 0..side {
                let in_border =
                    x < border || y < border || x >= side - border || y >= side - border;
                if in_border {
                    assert_eq!(buf[y * side + x], WHITE, "quiet zone pixel ({x},{y})");
                }
            }
        }
        // The top-left finder pattern's corner module is always dark.
        assert_eq!(buf[border * side + border], BLACK);
    }

    #[test]
    fn png_decodes_non_ascii_text() {
        let text = "https://example.org/café/ü";
        assert_eq!(decode_png(&png(text, 4).expect("png")), text);
    }

    #[test]
    fn svg_is_standalone_with_viewbox_and_white_background() {
        let s = svg(LINK).expect("svg");
        assert!(s.contains("<svg"));
        assert!(s.contains("viewBox"));
        assert!(s.contains("xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(s.contains("crispEdges"));
        assert!(s.contains("fill=\"#ffffff\""));
        assert!(s.trim_end().ends_with("</svg>"));
        let modules = encode(LINK).expect("encode").width() as u32;
        let side = (modules + 2 * QUIET_ZONE as u32) * SVG_MODULE_PX;
        assert!(s.contains(&format!("viewBox=\"0 0 {side} {side}\"")));
    }

    #[test]
    fn invalid_scale_is_rejected() {
        for scale in [0, MAX_SCALE + 1, u32::MAX] {
            let err = png(LINK, scale).expect_err("bad scale");
            assert_eq!(err.code(), "invalid_input", "scale {scale}");
            assert!(err.to_string().contains("scale"), "{err}");
        }
        assert!(png(LINK, 1).is_ok());
        assert!(png("x", MAX_SCALE).is_ok());
    }

    #[test]
    fn empty_text_is_rejected() {
        let err = png("", 4).expect_err("empty text");
        assert_eq!(err.code(), "invalid_input");
        assert!(err.to_string().contains("empty"), "{err}");
        assert_eq!(svg("").expect_err("empty text").code(), "invalid_input");
    }

    #[test]
    fn too_long_text_is_rejected() {
        let long = "a".repeat(3000);
        let err = png(&long, 4).expect_err("too long");
        assert_eq!(err.code(), "invalid_input");
        assert!(err.to_string().contains("too long"), "{err}");
        assert_eq!(svg(&long).expect_err("too long").code(), "invalid_input");
    }
}
