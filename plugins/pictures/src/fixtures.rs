//! Deterministic picture generators for tests and benchmarks (this crate's unit tests, the
//! end-to-end tests and the benchmark of other crates). Not part of the plugin's behaviour.
//!
//! Only `image` is used, so that any crate depending on `toolsync-pictures` can use them.

use image::codecs::gif::GifEncoder;
use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::{Delay, ExtendedColorType, Frame, ImageEncoder, Rgba, RgbaImage};

/// The colours of the frames of [`animated_gif`], in order (then again from the start).
pub const FRAME_COLOURS: [[u8; 3]; 4] =
    [[220, 30, 30], [30, 200, 40], [40, 60, 230], [240, 220, 20]];

/// A tiny linear congruential generator (Knuth's MMIX constants): deterministic noise
/// without a dependency.
struct Lcg(u64);

impl Lcg {
    fn next_u8(&mut self) -> u8 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 56) as u8
    }
}

/// `value * 255 / (len - 1)`: 0 at the first index, 255 at the last.
fn ramp(value: u32, len: u32) -> u8 {
    if len <= 1 {
        0
    } else {
        (u64::from(value) * 255 / u64::from(len - 1)) as u8
    }
}

fn gradient_rgb(w: u32, h: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(w as usize * h as usize * 3);
    for y in 0..h {
        for x in 0..w {
            out.extend_from_slice(&[ramp(x, w), ramp(y, h), ((x ^ y) & 0xFF) as u8]);
        }
    }
    out
}

fn encode_png(data: &[u8], w: u32, h: u32, colour: ExtendedColorType) -> Vec<u8> {
    let mut out = Vec::new();
    PngEncoder::new(&mut out)
        .write_image(data, w, h, colour)
        .expect("encode the fixture PNG");
    out
}

/// An RGB PNG: red grows left to right, green top to bottom, blue is `x ^ y` (not trivially
/// compressible). The top-left pixel is (0, 0, 0), the top-right (255, 0, w-1 & 255).
pub fn png(w: u32, h: u32) -> Vec<u8> {
    encode_png(&gradient_rgb(w, h), w, h, ExtendedColorType::Rgb8)
}

/// An RGBA PNG: the colours of [`png`], alpha growing left to right from 0 (transparent) to 255.
pub fn png_with_alpha(w: u32, h: u32) -> Vec<u8> {
    let rgb = gradient_rgb(w, h);
    let mut rgba = Vec::with_capacity(w as usize * h as usize * 4);
    for (i, px) in rgb.chunks_exact(3).enumerate() {
        let x = (i % w as usize) as u32;
        rgba.extend_from_slice(&[px[0], px[1], px[2], ramp(x, w)]);
    }
    encode_png(&rgba, w, h, ExtendedColorType::Rgba8)
}

/// A photo-like baseline JPEG: a smooth gradient plus deterministic per-pixel noise, so its size
/// is realistic (1200×1600 at quality 85 is a few hundred KB).
pub fn jpeg(w: u32, h: u32, quality: u8) -> Vec<u8> {
    photo_jpeg(w, h, quality, 0x005E_ED0F_7001_5A7C, [0, 0])
}

/// A [`jpeg`] of its own for each `seed` (the benchmark's thousands of different photos): the
/// noise comes from a stream seeded by `seed`, and the red and green gradients are shifted by
/// the seed's low and next bytes, so that any two seeds below 65,536 differ at nearly every
/// pixel, in their thumbnails too. Same size and cost to decode as [`jpeg`].
pub fn jpeg_seeded(w: u32, h: u32, quality: u8, seed: u64) -> Vec<u8> {
    let noise = 0x005E_ED0F_7001_5A7C ^ seed.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    photo_jpeg(w, h, quality, noise, [seed as u8, (seed >> 8) as u8])
}

/// The pixels of [`jpeg`]: `noise` seeds the noise, `shift` is added (wrapping) to the red and
/// green gradients.
fn photo_jpeg(w: u32, h: u32, quality: u8, noise: u64, shift: [u8; 2]) -> Vec<u8> {
    let mut lcg = Lcg(noise);
    let mut rgb = Vec::with_capacity(w as usize * h as usize * 3);
    for y in 0..h {
        for x in 0..w {
            let base = [
                ramp(x, w).wrapping_add(shift[0]),
                ramp(y, h).wrapping_add(shift[1]),
                ramp(x + y, w + h - 1).wrapping_add(64),
            ];
            for b in base {
                // noise in -8..=7
                let noise = i16::from(lcg.next_u8() >> 4) - 8;
                rgb.push((i16::from(b) + noise).clamp(0, 255) as u8);
            }
        }
    }
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, quality)
        .encode(&rgb, w, h, ExtendedColorType::Rgb8)
        .expect("encode the fixture JPEG");
    out
}

/// A single-frame GIF of 16×16 colour steps (an exact palette of at most 256 colours, no
/// transparency, so the encoder needs no quantisation).
pub fn gif(w: u32, h: u32) -> Vec<u8> {
    let mut rgba = Vec::with_capacity(w as usize * h as usize * 4);
    for y in 0..h {
        for x in 0..w {
            let r = (u64::from(x) * 16 / u64::from(w.max(1))) as u8 * 17;
            let g = (u64::from(y) * 16 / u64::from(h.max(1))) as u8 * 17;
            rgba.extend_from_slice(&[r, g, 128, 255]);
        }
    }
    let mut out = Vec::new();
    {
        let mut encoder = GifEncoder::new(&mut out);
        encoder
            .encode(&rgba, w, h, ExtendedColorType::Rgba8)
            .expect("encode the fixture GIF");
    } // the trailer is written when the encoder is dropped
    out
}

/// An animated GIF of `frames` full-size frames, frame `i` filled with
/// `FRAME_COLOURS[i % FRAME_COLOURS.len()]`.
pub fn animated_gif(w: u32, h: u32, frames: usize) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut encoder = GifEncoder::new(&mut out);
        for i in 0..frames {
            let [r, g, b] = FRAME_COLOURS[i % FRAME_COLOURS.len()];
            let buffer = RgbaImage::from_pixel(w, h, Rgba([r, g, b, 255]));
            encoder
                .encode_frame(Frame::from_parts(
                    buffer,
                    0,
                    0,
                    Delay::from_numer_denom_ms(100, 1),
                ))
                .expect("encode a fixture GIF frame");
        }
    }
    out
}

/// A PNG whose IHDR declares `w`×`h` RGB pixels (with a correct CRC) but whose only IDAT is an
/// empty zlib stream: no pixel data at all. A decoder that trusts the header allocates
/// `w * h * 3` bytes for nothing.
pub fn pixel_bomb_png(w: u32, h: u32) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    // bit depth 8, colour type 2 (RGB), compression 0, filter 0, no interlace
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    png_chunk(&mut out, b"IHDR", &ihdr);
    // zlib header (deflate, 32K window, default level), one empty final fixed block, Adler-32 of
    // nothing (1)
    png_chunk(
        &mut out,
        b"IDAT",
        &[0x78, 0x9C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    );
    png_chunk(&mut out, b"IEND", &[]);
    out
}

fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

/// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320), bit by bit: only for a few bytes.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A real [`jpeg`] (quality 85) cut in the middle of its entropy-coded scan data (no EOI).
pub fn truncated_jpeg(w: u32, h: u32) -> Vec<u8> {
    let mut bytes = jpeg(w, h, 85);
    let sos = bytes
        .windows(2)
        .position(|m| m == [0xFF, 0xDA])
        .expect("a JPEG has a start-of-scan marker");
    let scan_start = sos + 2 + usize::from(u16::from_be_bytes([bytes[sos + 2], bytes[sos + 3]]));
    bytes.truncate(scan_start + (bytes.len() - scan_start) / 2);
    bytes
}

/// Text that someone named `something.png`.
pub fn text_as_png() -> Vec<u8> {
    b"hello, this is not an image\n".to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_jpegs_differ_and_decode() {
        let (a, b) = (jpeg_seeded(64, 48, 85, 1), jpeg_seeded(64, 48, 85, 2));
        assert_ne!(a, b);
        assert_eq!(jpeg_seeded(64, 48, 85, 1), a, "deterministic");
        assert_ne!(a, jpeg(64, 48, 85));
        for bytes in [a, b] {
            let decoded = image::load_from_memory(&bytes).expect("a valid JPEG");
            assert_eq!((decoded.width(), decoded.height()), (64, 48));
        }
    }

    #[test]
    fn crc32_matches_the_reference_value() {
        // the standard check value of CRC-32/ISO-HDLC
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        // IEND's CRC, as every PNG carries it
        assert_eq!(crc32(b"IEND"), 0xAE42_6082);
    }
}
