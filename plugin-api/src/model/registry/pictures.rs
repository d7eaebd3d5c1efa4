//! Account pictures: `show picture <account>` and `export pictures` print what the record
//! says (the source's hash, format and size, each rendition's size and file); the PNGs
//! themselves come out with `toolsync picture get`. The CSV is for reading: the pictures
//! processor takes zip archives, not CSV.

use serde_json::{Map, Value};

use super::{scan_space, Column, Ctx, FindError, Lookup, Table};
use crate::model::picture::{self, Picture, Pictures};
use crate::model::user::{User, UserKey, Users};

/// A picture with its account's username (the key an operator knows it by).
pub struct PictureRow {
    pub picture: Picture,
    pub username: String,
}

fn row(ctx: Ctx<'_>, picture: Picture) -> Result<PictureRow, crate::model::ModelError> {
    let username = Users::get(&ctx.store, picture.user)?
        .map(|u| u.username)
        .unwrap_or_default();
    Ok(PictureRow { picture, username })
}

/// The picture of the account `keys[0]` designates by `field`.
fn of_account(ctx: Ctx<'_>, field: UserKey, key: &str) -> Result<Option<PictureRow>, FindError> {
    let user: Option<User> = Users::find(&ctx.store, field, key)?.into_iter().next();
    match user {
        Some(user) => match Pictures::get(&ctx.store, user.id)? {
            Some(picture) => Ok(Some(row(ctx, picture)?)),
            None => Err(FindError::NotFound(format!(
                "account `{}` has no picture",
                user.username
            ))),
        },
        None => Ok(None),
    }
}

/// `"512": {"width", "height", "bytes", "file"}` for each rendition.
fn renditions(p: &PictureRow) -> Value {
    let mut map = Map::new();
    for r in &p.picture.renditions {
        map.insert(
            r.size.to_string(),
            serde_json::json!({
                "width": r.width,
                "height": r.height,
                "bytes": r.bytes,
                "file": r.file,
            }),
        );
    }
    Value::Object(map)
}

/// `384x512`: a rendition's pixels, for the CSV.
fn pixels(p: &PictureRow, size: u32) -> Value {
    p.picture
        .rendition(size)
        .map(|r| format!("{}x{}", r.width, r.height))
        .unwrap_or_default()
        .into()
}

pub static PICTURES: Table<PictureRow> = Table {
    name: "pictures",
    singular: "picture",
    about: "account pictures (set by the pictures processor from zip archives; for reading)",
    key_help: Some("the account: username, idnumber, e-mail or id"),
    arity: 1,
    processor: None,
    json_separator: ",\n",
    scan: |ctx, visit| {
        scan_space(ctx, picture::SPACE, b"", &mut |p: Picture| {
            let row = row(ctx, p)?;
            visit(row)
        })
    },
    lookups: &[
        Lookup {
            field: "username",
            find: |ctx, keys| of_account(ctx, UserKey::Username, keys[0]),
        },
        Lookup {
            field: "idnumber",
            find: |ctx, keys| of_account(ctx, UserKey::Idnumber, keys[0]),
        },
        Lookup {
            field: "email",
            find: |ctx, keys| of_account(ctx, UserKey::Email, keys[0]),
        },
        Lookup {
            field: "id",
            find: |ctx, keys| of_account(ctx, UserKey::Id, keys[0]),
        },
    ],
    columns: &[
        Column::both("username", |p| p.username.clone().into()),
        Column::json("user", |p| p.picture.user.into()),
        Column::both("sha256", |p| p.picture.sha256.clone().into()),
        Column::both("format", |p| p.picture.format.clone().into()),
        Column::both("width", |p| p.picture.width.into()),
        Column::both("height", |p| p.picture.height.into()),
        Column::json("renditions", renditions),
        Column::csv("size512", |p| pixels(p, 512)),
        Column::csv("size100", |p| pixels(p, 100)),
        Column::csv("size35", |p| pixels(p, 35)),
        Column::json("timecreated", |p| p.picture.timecreated.into()),
        Column::json("timemodified", |p| p.picture.timemodified.into()),
    ],
    show_extra: None,
    csv_lines: None,
    csv_note: None,
    csv_header: None,
};
