//! One account picture: the bytes of a zip entry (hostile) in, what the platform stores out.
//!
//! Pure: no I/O, no store. The steps, in order:
//!
//! 1. the format comes from the content's signature ([`detect`]), never from a name;
//! 2. the dimensions come from the image header, read by the codec's decoder without decoding a
//!    pixel, and are checked against [`Limits`] ([`header`]) — a header declaring
//!    100,000 × 100,000 stops here;
//! 3. the pixels are decoded under `image`'s own [`image::Limits`] (the same maximum dimensions
//!    and a bounded `max_alloc`, see `alloc_budget`), so that a header that lies or a crafted
//!    stream cannot make the decoder allocate without bound; a truncated or corrupt image fails
//!    (for JPEG, whose decoder is lenient, a structural check comes first: `jpeg_is_complete`);
//!    an animated GIF gives its first frame;
//! 4. three renditions are encoded as PNG: the picture scaled down to fit 512×512, and square
//!    thumbnails of 100×100 and 35×35 centre-cropped from that 512 rendition.
//!
//! The SHA-256 of the entry's bytes (not of the outputs, which depend on the encoder's version)
//! identifies the picture: the same hash means "unchanged".

use std::io::Cursor;

use image::codecs::gif::GifDecoder;
use image::codecs::jpeg::JpegDecoder;
use image::codecs::png::{CompressionType, FilterType as PngFilter, PngDecoder, PngEncoder};
use image::imageops::{self, FilterType};
use image::{
    DynamicImage, ImageBuffer, ImageDecoder, ImageEncoder, ImageError, Pixel, PixelWithColorType,
};
use sha2::{Digest, Sha256};

/// The boxes of the renditions, in the order of [`Processed::renditions`].
pub const SIZES: [u32; 3] = [512, 100, 35];

/// The message for content that is none of the three formats, whatever its name.
pub const NOT_AN_IMAGE: &str = "not a PNG, JPEG or GIF image";

/// Resampling filter of every resize. `Triangle` (bilinear, widened by the scale factor when
/// shrinking, so that every source pixel counts and nothing aliases) rather than `CatmullRom`:
/// its support is half as wide, and on the benchmark's 1200×1600 JPEG (release, one thread) the
/// resizes take 15.4 ms instead of 21.3 ms, a quarter of the whole `process` (24 ms against
/// 30 ms). At reductions of 3× and more, CatmullRom's extra sharpness hardly shows (image's
/// integer box `thumbnail` would save only 3 ms more and aliases). Numbers: the `timings` test.
const FILTER: FilterType = FilterType::Triangle;

/// PNG compression of the renditions. `Fast` is the png crate's `fdeflate` (a deflate tuned for
/// PNG rows): encoding the three renditions takes 1.4 ms against 84 ms for zlib's default level,
/// for a 512 rendition 2 % bigger (220 KB against 216 KB for the benchmark's noisy picture).
const COMPRESSION: CompressionType = CompressionType::Fast;

/// PNG row filter. `Adaptive` picks a filter per row: against `NoFilter` it makes the 512
/// rendition of a photo 2.7 times smaller (220 KB against 590 KB) for 0.5 ms; a fixed `Paeth`
/// does as well on photos, but worse on flat graphics, which account pictures also are.
const PNG_FILTER: PngFilter = PngFilter::Adaptive;

/// Maximum dimensions of a source picture (`max_image_width`, `max_image_height`); inclusive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub max_width: u32,
    pub max_height: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_width: 4096,
            max_height: 4096,
        }
    }
}

/// A source format, as detected from the content.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Png,
    Jpeg,
    Gif,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Png => "png",
            Format::Jpeg => "jpeg",
            Format::Gif => "gif",
        }
    }
}

/// One stored rendition: a PNG fitting the `size`×`size` box.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rendition {
    /// The box: 512, 100 or 35 (see [`SIZES`]).
    pub size: u32,
    pub width: u32,
    pub height: u32,
    pub png: Vec<u8>,
}

/// What the platform stores for one picture.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Processed {
    pub format: Format,
    /// Of the source.
    pub width: u32,
    /// Of the source.
    pub height: u32,
    /// SHA-256 of the entry's bytes: the picture's identity.
    pub sha256: [u8; 32],
    /// One per [`SIZES`], in that order.
    pub renditions: Vec<Rendition>,
}

/// The format whose signature starts `bytes`, if any. Only the content counts.
pub fn detect(bytes: &[u8]) -> Option<Format> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(Format::Png)
    } else if bytes.starts_with(b"\xFF\xD8\xFF") {
        Some(Format::Jpeg)
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some(Format::Gif)
    } else {
        None
    }
}

/// The format and dimensions of a picture, checked against `limits`, without decoding a pixel.
pub fn header(bytes: &[u8], limits: &Limits) -> Result<(Format, u32, u32), String> {
    let opened = open(bytes, limits)?;
    Ok((opened.format, opened.width, opened.height))
}

/// Turns one entry's bytes into the renditions the platform stores.
pub fn process(bytes: &[u8], limits: &Limits) -> Result<Processed, String> {
    let opened = open(bytes, limits)?;
    let (format, width, height) = (opened.format, opened.width, opened.height);
    let pixels = decode(opened, limits)?;
    let renditions = render(pixels, FILTER, COMPRESSION, PNG_FILTER)?;
    Ok(Processed {
        format,
        width,
        height,
        sha256: Sha256::digest(bytes).into(),
        renditions,
    })
}

/// Lowercase hexadecimal SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    // The one hex SHA-256 of the workspace: stored files are named by it too.
    toolsync_plugin_api::blobs::sha256_hex(bytes)
}

/// A decoder that has read the header, and nothing more.
struct Opened<'a> {
    bytes: &'a [u8],
    format: Format,
    width: u32,
    height: u32,
    decoder: Box<dyn ImageDecoder + 'a>,
}

fn open<'a>(bytes: &'a [u8], limits: &Limits) -> Result<Opened<'a>, String> {
    let format = detect(bytes).ok_or_else(|| NOT_AN_IMAGE.to_string())?;
    let input = Cursor::new(bytes);
    // The constructors read the header only (for PNG, the chunks up to the first IDAT, under
    // the allocation budget; for JPEG, the markers up to the first scan; for GIF, the logical
    // screen descriptor and the global palette). No dimension limit is given to them yet: the
    // check below reports it in the platform's words.
    let decoder: Box<dyn ImageDecoder + 'a> = match format {
        Format::Png => {
            Box::new(PngDecoder::with_limits(input, budget_only(limits)).map_err(cannot_decode)?)
        }
        Format::Jpeg => Box::new(JpegDecoder::new(input).map_err(cannot_decode)?),
        Format::Gif => Box::new(GifDecoder::new(input).map_err(cannot_decode)?),
    };
    let (width, height) = decoder.dimensions();
    if width > limits.max_width || height > limits.max_height {
        return Err(format!(
            "{width}×{height} pixels, over the limit of {}×{} (max_image_width, max_image_height)",
            limits.max_width, limits.max_height
        ));
    }
    if width == 0 || height == 0 {
        return Err(format!(
            "cannot decode the image: {width}×{height} pixels, an image needs at least one"
        ));
    }
    Ok(Opened {
        bytes,
        format,
        width,
        height,
        decoder,
    })
}

/// The most the decoder may allocate: the largest decoded buffer the dimension limits allow
/// (8 bytes a pixel: 16-bit RGBA, the widest pixel these codecs produce, so that any image
/// within the limits decodes) plus 16 MiB of working memory (a PNG's rows and chunks, a GIF
/// frame placed off the logical screen). At the default limits: 144 MiB.
///
/// Where it applies: `image` reserves the output buffer from it before allocating it; what is
/// left bounds a GIF's off-screen frame buffer and, through the budget given to the PNG
/// decoder at construction, the png crate's own buffers. The JPEG decoder (zune-jpeg) ignores
/// `max_alloc`, but its allocations are proportional to the dimensions, which are checked.
fn alloc_budget(limits: &Limits) -> u64 {
    u64::from(limits.max_width)
        .saturating_mul(u64::from(limits.max_height))
        .saturating_mul(8)
        .saturating_add(16 << 20)
}

fn budget_only(limits: &Limits) -> image::Limits {
    let mut out = image::Limits::no_limits();
    out.max_alloc = Some(alloc_budget(limits));
    out
}

fn decode(opened: Opened<'_>, limits: &Limits) -> Result<Pixels, String> {
    let Opened {
        bytes,
        format,
        mut decoder,
        ..
    } = opened;
    if format == Format::Jpeg {
        jpeg_is_complete(bytes)?;
    }
    let mut image_limits = budget_only(limits);
    image_limits.max_image_width = Some(limits.max_width);
    image_limits.max_image_height = Some(limits.max_height);
    // as `image::ImageReader::decode` does: the output buffer counts against the budget
    image_limits
        .reserve(decoder.total_bytes())
        .map_err(cannot_decode)?;
    decoder.set_limits(image_limits).map_err(cannot_decode)?;
    let has_alpha = decoder.color_type().has_alpha();
    // A GIF (its first frame only, for an animation) always decodes to RGBA: it has alpha if a
    // pixel is transparent (the frame's transparent index, or screen the frame does not cover).
    let image = DynamicImage::from_decoder(decoder).map_err(cannot_decode)?;
    let has_alpha = match (format, &image) {
        (Format::Gif, DynamicImage::ImageRgba8(rgba)) => rgba.pixels().any(|p| p.0[3] != 255),
        _ => has_alpha,
    };
    Ok(if has_alpha {
        Pixels::Rgba(image.into_rgba8())
    } else {
        Pixels::Rgb(image.into_rgb8())
    })
}

/// Checks that a JPEG's marker structure reaches its end-of-image marker (EOI).
///
/// `image` runs zune-jpeg in its lenient mode, which decodes a file cut in the middle of its scan
/// data without an error (the missing blocks come out grey, as in a browser); the platform wants
/// such an entry refused. Walks the segments by their lengths (so that an EXIF thumbnail's own
/// markers inside APP1 are skipped), and each scan's entropy-coded data up to the next marker
/// (a 0xFF not followed by a stuffed 0x00 or a restart marker). Bytes after the EOI are ignored,
/// as decoders do. Corruption inside the scan data that still parses cannot be seen this way.
fn jpeg_is_complete(bytes: &[u8]) -> Result<(), String> {
    let truncated = || {
        "cannot decode the image: the JPEG data ends before its end-of-image marker (truncated)"
            .to_string()
    };
    let mut i = 2; // after SOI
    loop {
        // the next marker: skip anything up to its 0xFF, then the 0xFF fill bytes
        i += bytes
            .get(i..)
            .unwrap_or_default()
            .iter()
            .position(|&b| b == 0xFF)
            .ok_or_else(truncated)?;
        while bytes.get(i) == Some(&0xFF) {
            i += 1;
        }
        let marker = *bytes.get(i).ok_or_else(truncated)?;
        i += 1;
        match marker {
            0xD9 => return Ok(()),
            // standalone markers: restarts, TEM, a stray SOI
            0xD0..=0xD8 | 0x01 => continue,
            _ => {}
        }
        let length = bytes.get(i..i + 2).ok_or_else(truncated)?;
        let length = usize::from(u16::from_be_bytes([length[0], length[1]]));
        if length < 2 {
            return Err(format!(
                "cannot decode the image: JPEG segment 0xFF{marker:02X} has the impossible length {length}"
            ));
        }
        i += length;
        if i > bytes.len() {
            return Err(truncated());
        }
        if marker == 0xDA {
            // start of scan: entropy-coded data up to the next real marker
            loop {
                let ff = i + bytes[i..]
                    .iter()
                    .position(|&b| b == 0xFF)
                    .ok_or_else(truncated)?;
                match bytes.get(ff + 1) {
                    None => return Err(truncated()),
                    Some(0x00 | 0xD0..=0xD7) => i = ff + 2,
                    Some(_) => {
                        i = ff;
                        break;
                    }
                }
            }
        }
    }
}

/// The decoded picture in its output colour type.
enum Pixels {
    Rgb(image::RgbImage),
    Rgba(image::RgbaImage),
}

fn render(
    pixels: Pixels,
    filter: FilterType,
    compression: CompressionType,
    png_filter: PngFilter,
) -> Result<Vec<Rendition>, String> {
    match pixels {
        Pixels::Rgb(image) => renditions(image, filter, compression, png_filter),
        Pixels::Rgba(image) => renditions(image, filter, compression, png_filter),
    }
}

/// `width`×`height` scaled down to fit a `size`×`size` box, aspect kept (rounded, at least 1);
/// unchanged if it already fits (never scaled up).
fn fit(width: u32, height: u32, size: u32) -> (u32, u32) {
    if width <= size && height <= size {
        return (width, height);
    }
    let scaled = |short: u32, long: u32| {
        let v = (u64::from(short) * u64::from(size) + u64::from(long) / 2) / u64::from(long);
        (v as u32).max(1)
    };
    if width >= height {
        (size, scaled(height, width))
    } else {
        (scaled(width, height), size)
    }
}

fn renditions<P>(
    source: ImageBuffer<P, Vec<u8>>,
    filter: FilterType,
    compression: CompressionType,
    png_filter: PngFilter,
) -> Result<Vec<Rendition>, String>
where
    P: Pixel<Subpixel = u8> + PixelWithColorType + 'static,
{
    let [big_box, thumb_boxes @ ..] = SIZES;
    let (width, height) = fit(source.width(), source.height(), big_box);
    let big = if (width, height) == source.dimensions() {
        source
    } else {
        imageops::resize(&source, width, height, filter)
    };
    let mut out = Vec::with_capacity(SIZES.len());
    // Thumbnails come from the 512 rendition (a fraction of the source's pixels): centre crop to
    // a square, then resize to exactly the box, up or down.
    let side = width.min(height);
    let square = imageops::crop_imm(&big, (width - side) / 2, (height - side) / 2, side, side);
    for size in thumb_boxes {
        let thumb = imageops::resize(&*square, size, size, filter);
        out.push(Rendition {
            size,
            width: size,
            height: size,
            png: encode_png(&thumb, compression, png_filter)?,
        });
    }
    out.insert(
        0,
        Rendition {
            size: big_box,
            width,
            height,
            png: encode_png(&big, compression, png_filter)?,
        },
    );
    Ok(out)
}

fn encode_png<P>(
    image: &ImageBuffer<P, Vec<u8>>,
    compression: CompressionType,
    png_filter: PngFilter,
) -> Result<Vec<u8>, String>
where
    P: Pixel<Subpixel = u8> + PixelWithColorType,
{
    let mut out = Vec::new();
    PngEncoder::new_with_quality(&mut out, compression, png_filter)
        .write_image(image.as_raw(), image.width(), image.height(), P::COLOR_TYPE)
        .map_err(|e| format!("cannot encode the PNG: {}", one_line(&e.to_string())))?;
    Ok(out)
}

fn cannot_decode(error: ImageError) -> String {
    format!("cannot decode the image: {}", one_line(&error.to_string()))
}

/// `text` with every run of whitespace (line breaks included) made one space.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use image::{ColorType, ExtendedColorType, GenericImageView, ImageFormat, Rgb, RgbImage};

    use super::*;
    use crate::fixtures;

    const DEFAULT: Limits = Limits {
        max_width: 4096,
        max_height: 4096,
    };

    /// An output PNG decoded back (it must be one).
    fn decode_png(bytes: &[u8]) -> DynamicImage {
        assert_eq!(detect(bytes), Some(Format::Png));
        image::load_from_memory_with_format(bytes, ImageFormat::Png).expect("an output is a PNG")
    }

    /// Checks the renditions' boxes, declared sizes and PNGs; returns them decoded.
    fn check_renditions(processed: &Processed, big: (u32, u32)) -> Vec<DynamicImage> {
        let boxes: Vec<u32> = processed.renditions.iter().map(|r| r.size).collect();
        assert_eq!(boxes, SIZES);
        let expected = [big, (100, 100), (35, 35)];
        processed
            .renditions
            .iter()
            .zip(expected)
            .map(|(rendition, (w, h))| {
                assert_eq!(
                    (rendition.width, rendition.height),
                    (w, h),
                    "{}",
                    rendition.size
                );
                let image = decode_png(&rendition.png);
                assert_eq!(image.dimensions(), (w, h), "{}", rendition.size);
                image
            })
            .collect()
    }

    fn assert_close(actual: [u8; 3], expected: [u8; 3], what: &str) {
        for (a, e) in actual.iter().zip(expected) {
            assert!(
                a.abs_diff(e) <= 3,
                "{what}: {actual:?}, expected {expected:?}"
            );
        }
    }

    /// An RGB PNG, green in its centre square and a little beyond (a tenth of the side, so that
    /// resampling does not blend the square's edges), red in the rest of the first half along
    /// its long side, blue in the rest of the second: only a centre crop gives an all-green
    /// thumbnail.
    fn banded_png(w: u32, h: u32) -> Vec<u8> {
        let side = w.min(h);
        let image = RgbImage::from_fn(w, h, |x, y| {
            let along = if w >= h { x } else { y };
            let start = (w.max(h) - side) / 2 - side / 10;
            if along < start {
                Rgb([255, 0, 0])
            } else if along >= start + side + 2 * (side / 10) {
                Rgb([0, 0, 255])
            } else {
                Rgb([0, 255, 0])
            }
        });
        let mut out = Vec::new();
        image
            .write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
            .unwrap();
        out
    }

    #[test]
    fn detect_reads_the_content_signature_only() {
        assert_eq!(detect(&fixtures::png(4, 4)), Some(Format::Png));
        assert_eq!(detect(&fixtures::jpeg(8, 8, 85)), Some(Format::Jpeg));
        assert_eq!(detect(&fixtures::gif(4, 4)), Some(Format::Gif));
        assert_eq!(detect(b"\x89PNG\r\n\x1a\n"), Some(Format::Png));
        assert_eq!(detect(b"\xFF\xD8\xFF"), Some(Format::Jpeg));
        assert_eq!(detect(b"GIF87a"), Some(Format::Gif));
        assert_eq!(detect(b"GIF89a"), Some(Format::Gif));
        // not quite a signature
        assert_eq!(detect(b"\x89PNG\r\n\x1a"), None);
        assert_eq!(detect(b"\x89PNG\n\x1a\n"), None);
        assert_eq!(detect(b"\xFF\xD8"), None);
        assert_eq!(detect(b"GIF88a"), None);
        assert_eq!(detect(b" GIF89a"), None);
        assert_eq!(detect(b""), None);
        assert_eq!(detect(&fixtures::text_as_png()), None);
        // a BMP or a WebP is no more accepted than text
        assert_eq!(detect(b"BM\x36\x00\x00\x00"), None);
        assert_eq!(detect(b"RIFF\x00\x00\x00\x00WEBPVP8 "), None);
        assert_eq!(Format::Png.as_str(), "png");
        assert_eq!(Format::Jpeg.as_str(), "jpeg");
        assert_eq!(Format::Gif.as_str(), "gif");
    }

    #[test]
    fn text_named_png_is_not_an_image() {
        let error = process(&fixtures::text_as_png(), &DEFAULT).unwrap_err();
        assert_eq!(error, "not a PNG, JPEG or GIF image");
        assert_eq!(process(b"", &DEFAULT).unwrap_err(), NOT_AN_IMAGE);
        assert_eq!(
            header(&fixtures::text_as_png(), &DEFAULT).unwrap_err(),
            NOT_AN_IMAGE
        );
    }

    #[test]
    fn png_gives_three_png_renditions() {
        let bytes = fixtures::png(64, 48);
        let processed = process(&bytes, &DEFAULT).unwrap();
        assert_eq!(processed.format, Format::Png);
        assert_eq!((processed.width, processed.height), (64, 48));
        let images = check_renditions(&processed, (64, 48));
        for image in &images {
            assert_eq!(image.color(), ColorType::Rgb8);
        }
        // unscaled: the pixels are the source's (top-right: red 255, green 0)
        let top_right = images[0].to_rgb8().get_pixel(63, 0).0;
        assert_eq!(top_right, [255, 0, 63]);
    }

    #[test]
    fn jpeg_1200x1600_becomes_384x512() {
        let bytes = fixtures::jpeg(1200, 1600, 85);
        let processed = process(&bytes, &DEFAULT).unwrap();
        assert_eq!(processed.format, Format::Jpeg);
        assert_eq!((processed.width, processed.height), (1200, 1600));
        let images = check_renditions(&processed, (384, 512));
        for image in &images {
            assert_eq!(image.color(), ColorType::Rgb8);
        }
    }

    #[test]
    fn fit_scales_down_only_and_keeps_the_aspect() {
        assert_eq!(fit(1200, 1600, 512), (384, 512));
        assert_eq!(fit(2000, 1000, 512), (512, 256));
        assert_eq!(fit(300, 200, 512), (300, 200));
        assert_eq!(fit(512, 512, 512), (512, 512));
        assert_eq!(fit(513, 512, 512), (512, 511));
        assert_eq!(fit(4096, 1, 512), (512, 1));
        assert_eq!(fit(1, 4096, 512), (1, 512));
        assert_eq!(fit(1000, 3, 512), (512, 2)); // 1.536 rounds to 2
        assert_eq!(fit(1, 1, 512), (1, 1));
    }

    #[test]
    fn wide_2000x1000_becomes_512x256() {
        let processed = process(&fixtures::png(2000, 1000), &DEFAULT).unwrap();
        assert_eq!((processed.width, processed.height), (2000, 1000));
        let images = check_renditions(&processed, (512, 256));
        // the gradient survives the reduction: red grows left to right
        let big = images[0].to_rgb8();
        assert!(big.get_pixel(0, 128).0[0] < 5);
        assert!(big.get_pixel(511, 128).0[0] > 250);
    }

    #[test]
    fn small_300x200_is_not_upscaled_but_its_thumbnails_are() {
        let processed = process(&fixtures::png(300, 200), &DEFAULT).unwrap();
        check_renditions(&processed, (300, 200));
        // smaller than both thumbnails: scaled up to exactly 100×100 and 35×35
        let processed = process(&fixtures::png(20, 10), &DEFAULT).unwrap();
        check_renditions(&processed, (20, 10));
        let processed = process(&fixtures::png(1, 1), &DEFAULT).unwrap();
        check_renditions(&processed, (1, 1));
    }

    #[test]
    fn thumbnails_are_centre_crops() {
        // wide (kept at 300×100) and tall (scaled to 200×600 → 171×512, then cropped)
        for (w, h, big) in [(300, 100, (300, 100)), (200, 600, (171, 512))] {
            let processed = process(&banded_png(w, h), &DEFAULT).unwrap();
            let images = check_renditions(&processed, big);
            let full = images[0].to_rgb8();
            assert_close(
                full.get_pixel(0, 0).0,
                [255, 0, 0],
                "512 rendition, first band",
            );
            for (image, size) in images[1..].iter().zip([100, 35]) {
                let thumb = image.to_rgb8();
                for (x, y) in [(0, 0), (size - 1, 0), (0, size - 1), (size - 1, size - 1)] {
                    let what = format!("{w}×{h}: thumbnail {size} at ({x}, {y})");
                    assert_close(thumb.get_pixel(x, y).0, [0, 255, 0], &what);
                }
                let what = format!("{w}×{h}: thumbnail {size} centre");
                assert_close(thumb.get_pixel(size / 2, size / 2).0, [0, 255, 0], &what);
            }
        }
    }

    #[test]
    fn gif_is_processed() {
        let processed = process(&fixtures::gif(40, 30), &DEFAULT).unwrap();
        assert_eq!(processed.format, Format::Gif);
        assert_eq!((processed.width, processed.height), (40, 30));
        let images = check_renditions(&processed, (40, 30));
        // no transparent pixel: RGB
        assert_eq!(images[0].color(), ColorType::Rgb8);
    }

    #[test]
    fn animated_gif_keeps_its_first_frame() {
        let processed = process(&fixtures::animated_gif(40, 30, 3), &DEFAULT).unwrap();
        assert_eq!(processed.format, Format::Gif);
        let first = fixtures::FRAME_COLOURS[0];
        for image in check_renditions(&processed, (40, 30)) {
            assert_eq!(image.color(), ColorType::Rgb8);
            for pixel in image.to_rgb8().pixels() {
                assert_eq!(pixel.0, first);
            }
        }
    }

    #[test]
    fn alpha_is_kept_and_only_alpha() {
        // alpha grows from 0 (left) to 255 (right); the thumbnails show the middle 48 columns
        let processed = process(&fixtures::png_with_alpha(64, 48), &DEFAULT).unwrap();
        let images = check_renditions(&processed, (64, 48));
        for (image, (left, right)) in images.iter().zip([(0, 255), (32, 223), (32, 223)]) {
            assert_eq!(image.color(), ColorType::Rgba8);
            let rgba = image.to_rgba8();
            let (w, h) = rgba.dimensions();
            let alpha = |x| i32::from(rgba.get_pixel(x, h / 2).0[3]);
            assert!((alpha(0) - left).abs() <= 6, "{w}: left alpha {}", alpha(0));
            assert!(
                (alpha(w - 1) - right).abs() <= 6,
                "{w}: right alpha {}",
                alpha(w - 1)
            );
        }
        // a grey picture without alpha becomes RGB, with alpha RGBA
        for (colour, expected) in [
            (ExtendedColorType::L8, ColorType::Rgb8),
            (ExtendedColorType::La8, ColorType::Rgba8),
            (ExtendedColorType::Rgb8, ColorType::Rgb8),
        ] {
            let channels = usize::from(colour.channel_count());
            let mut bytes = Vec::new();
            PngEncoder::new(&mut bytes)
                .write_image(&vec![200; 8 * 8 * channels], 8, 8, colour)
                .unwrap();
            let processed = process(&bytes, &DEFAULT).unwrap();
            for image in check_renditions(&processed, (8, 8)) {
                assert_eq!(image.color(), expected, "{colour:?}");
            }
        }
    }

    #[test]
    fn pixel_bomb_header_fails_before_any_allocation() {
        let bomb = fixtures::pixel_bomb_png(100_000, 100_000);
        let started = Instant::now();
        let error = process(&bomb, &DEFAULT).unwrap_err();
        // 3 × 10^10 bytes if the header were trusted: allocating (let alone zeroing) that would
        // abort the test binary or take seconds; refusing at the header takes microseconds
        assert!(started.elapsed() < Duration::from_millis(500));
        assert_eq!(
            error,
            "100000×100000 pixels, over the limit of 4096×4096 (max_image_width, max_image_height)"
        );
        assert_eq!(header(&bomb, &DEFAULT).unwrap_err(), error);
    }

    #[test]
    fn header_within_the_limits_without_pixel_data_fails_to_decode_quickly() {
        let limits = Limits {
            max_width: 6000,
            max_height: 6000,
        };
        let bomb = fixtures::pixel_bomb_png(5000, 5000);
        assert_eq!(header(&bomb, &limits), Ok((Format::Png, 5000, 5000)));
        let started = Instant::now();
        let error = process(&bomb, &limits).unwrap_err();
        // `image` allocates the 75 MB output buffer the limits allow (zeroed pages, which the
        // system maps lazily), then the png decoder fails at the first row it cannot inflate
        assert!(started.elapsed() < Duration::from_millis(500));
        assert!(error.starts_with("cannot decode the image: "), "{error}");
        assert!(!error.contains('\n'));
    }

    #[test]
    fn limits_are_inclusive_and_apply_to_every_format() {
        let at_limit = fixtures::pixel_bomb_png(4096, 4096);
        assert_eq!(header(&at_limit, &DEFAULT), Ok((Format::Png, 4096, 4096)));
        for (w, h) in [(4097, 4096), (4096, 4097)] {
            let expected = format!(
                "{w}×{h} pixels, over the limit of 4096×4096 (max_image_width, max_image_height)"
            );
            let bomb = fixtures::pixel_bomb_png(w, h);
            assert_eq!(header(&bomb, &DEFAULT).unwrap_err(), expected);
            assert_eq!(process(&bomb, &DEFAULT).unwrap_err(), expected);
        }
        let limits = Limits {
            max_width: 40,
            max_height: 30,
        };
        for (bytes, format) in [
            (fixtures::png(40, 30), Format::Png),
            (fixtures::jpeg(40, 30, 85), Format::Jpeg),
            (fixtures::gif(40, 30), Format::Gif),
        ] {
            assert_eq!(header(&bytes, &limits), Ok((format, 40, 30)));
            assert!(process(&bytes, &limits).is_ok());
            let tighter = [(39, 30), (40, 29)].map(|(max_width, max_height)| Limits {
                max_width,
                max_height,
            });
            for tighter in tighter {
                let expected = format!(
                    "40×30 pixels, over the limit of {}×{} (max_image_width, max_image_height)",
                    tighter.max_width, tighter.max_height
                );
                assert_eq!(
                    header(&bytes, &tighter).unwrap_err(),
                    expected,
                    "{format:?}"
                );
                assert_eq!(
                    process(&bytes, &tighter).unwrap_err(),
                    expected,
                    "{format:?}"
                );
            }
        }
    }

    #[test]
    fn alloc_budget_bounds_any_image_within_the_limits() {
        // 4096 × 4096 16-bit RGBA + 16 MiB
        assert_eq!(alloc_budget(&DEFAULT), (128 + 16) << 20);
        let huge = Limits {
            max_width: u32::MAX,
            max_height: u32::MAX,
        };
        assert_eq!(alloc_budget(&huge), u64::MAX);
    }

    fn assert_cannot_decode(bytes: &[u8], what: &str) {
        let error = process(bytes, &DEFAULT).unwrap_err();
        assert!(
            error.starts_with("cannot decode the image: "),
            "{what}: {error}"
        );
        assert!(!error.contains('\n'), "{what}: {error}");
    }

    #[test]
    fn truncated_or_corrupt_images_fail() {
        let truncated = fixtures::truncated_jpeg(64, 48);
        // the header is whole: the failure is the decoding's
        assert_eq!(header(&truncated, &DEFAULT), Ok((Format::Jpeg, 64, 48)));
        assert_eq!(
            process(&truncated, &DEFAULT).unwrap_err(),
            "cannot decode the image: the JPEG data ends before its end-of-image marker (truncated)"
        );
        // cut anywhere, headers included
        let whole = fixtures::jpeg(64, 48, 85);
        for len in [3, 10, 100, whole.len() - 2, whole.len() - 1] {
            assert_cannot_decode(&whole[..len], &format!("JPEG cut at {len}"));
        }
        let png = fixtures::png(64, 48);
        assert_cannot_decode(&png[..png.len() / 2], "truncated PNG");
        assert_cannot_decode(&png[..20], "PNG cut in its IHDR");
        let mut corrupt = png.clone();
        corrupt[png.len() / 2] ^= 0x55;
        assert_cannot_decode(&corrupt, "PNG with a flipped bit (CRC)");
        let gif = fixtures::gif(64, 48);
        assert_cannot_decode(&gif[..gif.len() / 2], "truncated GIF");
        assert_cannot_decode(b"GIF89a", "GIF signature only");
    }

    #[test]
    fn jpeg_completeness_skips_segments_and_trailing_data() {
        let mut whole = fixtures::jpeg(16, 16, 85);
        assert_eq!(jpeg_is_complete(&whole), Ok(()));
        // an APP1 segment carrying an EOI of its own (as an EXIF thumbnail does) is skipped by
        // its length: the cut main image is still found truncated
        let mut with_app1 = whole[..2].to_vec();
        with_app1.extend_from_slice(&[0xFF, 0xE1, 0x00, 0x06, 0xFF, 0xD9, 0xFF, 0xD9]);
        with_app1.extend_from_slice(&whole[2..]);
        assert_eq!(jpeg_is_complete(&with_app1), Ok(()));
        assert!(process(&with_app1, &DEFAULT).is_ok());
        let cut = with_app1.len() - 10;
        assert!(jpeg_is_complete(&with_app1[..cut]).is_err());
        // bytes after the EOI are ignored
        whole.extend_from_slice(b"trailing garbage");
        assert!(process(&whole, &DEFAULT).is_ok());
    }

    #[test]
    fn zero_sized_gif_fails() {
        // a logical screen of 0×0 holding one 1×1 frame
        let gif = b"GIF89a\x00\x00\x00\x00\x00\x00\x00\
            ,\x00\x00\x00\x00\x01\x00\x01\x00\x80\xFF\x00\x00\x00\x00\xFF\
            \x02\x02\x44\x01\x00;";
        assert_eq!(
            process(gif, &DEFAULT).unwrap_err(),
            "cannot decode the image: 0×0 pixels, an image needs at least one"
        );
    }

    #[test]
    fn sha256_identifies_the_entry_bytes() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let bytes = fixtures::jpeg(16, 16, 85);
        let first = process(&bytes, &DEFAULT).unwrap();
        let again = process(&bytes, &DEFAULT).unwrap();
        assert_eq!(first.sha256, again.sha256);
        assert_eq!(first, again, "processing is deterministic");
        let hex: String = first.sha256.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, sha256_hex(&bytes));
        // of the entry, not of an output
        assert_ne!(hex, sha256_hex(&first.renditions[0].png));
        // the same pixels in other bytes are another entry
        let png = fixtures::png(16, 16);
        let mut reencoded = Vec::new();
        PngEncoder::new_with_quality(&mut reencoded, CompressionType::Best, PngFilter::Paeth)
            .write_image(&decode_png(&png).to_rgb8(), 16, 16, ExtendedColorType::Rgb8)
            .unwrap();
        assert_ne!(reencoded, png);
        let (a, b) = (process(&png, &DEFAULT), process(&reencoded, &DEFAULT));
        assert_eq!(
            a.as_ref().unwrap().renditions,
            b.as_ref().unwrap().renditions
        );
        assert_ne!(a.unwrap().sha256, b.unwrap().sha256);
    }

    /// Where the time of [`process`] goes on the benchmark's picture, for a few filter and
    /// compression choices. Prints, asserts nothing; run it optimised and alone:
    /// `cargo test --release -p toolsync-pictures timings -- --ignored --nocapture --test-threads=1`
    #[test]
    #[ignore = "a measurement, not a test: run it in release"]
    fn timings() {
        const RUNS: u32 = 30;
        let bytes = fixtures::jpeg(1200, 1600, 85);
        println!(
            "input: 1200×1600 JPEG q85, {} bytes; mean of {RUNS} runs",
            bytes.len()
        );
        let ms = |d: Duration| d.as_secs_f64() * 1000.0 / f64::from(RUNS);
        let choices = [
            (
                FilterType::Triangle,
                CompressionType::Fast,
                PngFilter::Adaptive,
            ),
            (
                FilterType::CatmullRom,
                CompressionType::Fast,
                PngFilter::Adaptive,
            ),
            (
                FilterType::Triangle,
                CompressionType::Fast,
                PngFilter::NoFilter,
            ),
            (
                FilterType::Triangle,
                CompressionType::Fast,
                PngFilter::Paeth,
            ),
            (
                FilterType::Triangle,
                CompressionType::Default,
                PngFilter::Adaptive,
            ),
        ];
        for (filter, compression, png_filter) in choices {
            let (mut decode_time, mut resize_time, mut encode_time) = Default::default();
            let mut thumbs_time = Duration::ZERO;
            let mut sizes = [0; 3];
            for _ in 0..RUNS {
                let started = Instant::now();
                let Pixels::Rgb(source) =
                    decode(open(&bytes, &DEFAULT).unwrap(), &DEFAULT).unwrap()
                else {
                    panic!("a JPEG decodes to RGB");
                };
                decode_time += started.elapsed();
                let started = Instant::now();
                let (w, h) = fit(source.width(), source.height(), 512);
                let big = imageops::resize(&source, w, h, filter);
                let thumbs_started = Instant::now();
                let side = w.min(h);
                let square = imageops::crop_imm(&big, (w - side) / 2, (h - side) / 2, side, side);
                let thumbs = [100, 35].map(|size| imageops::resize(&*square, size, size, filter));
                thumbs_time += thumbs_started.elapsed();
                resize_time += started.elapsed();
                let started = Instant::now();
                for (i, image) in [&big, &thumbs[0], &thumbs[1]].into_iter().enumerate() {
                    sizes[i] = encode_png(image, compression, png_filter).unwrap().len();
                }
                encode_time += started.elapsed();
            }
            let total = decode_time + resize_time + encode_time;
            println!(
                "{filter:?} {compression:?} {png_filter:?}: decode {:.2} ms, resize {:.2} ms \
                 (of which thumbnails {:.2}), encode {:.2} ms, total {:.2} ms; \
                 PNG bytes 512/100/35: {sizes:?}",
                ms(decode_time),
                ms(resize_time),
                ms(thumbs_time),
                ms(encode_time),
                ms(total),
            );
        }
        // for comparison: image's integer box reduction (not a FilterType)
        let Pixels::Rgb(source) = decode(open(&bytes, &DEFAULT).unwrap(), &DEFAULT).unwrap() else {
            panic!("a JPEG decodes to RGB");
        };
        let started = Instant::now();
        for _ in 0..RUNS {
            imageops::thumbnail(&source, 384, 512);
        }
        println!(
            "imageops::thumbnail to 384×512: {:.2} ms",
            ms(started.elapsed())
        );
        let started = Instant::now();
        for _ in 0..RUNS {
            process(&bytes, &DEFAULT).unwrap();
        }
        println!("process() as shipped: {:.2} ms", ms(started.elapsed()));
    }
}
