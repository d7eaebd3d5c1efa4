//! A generator of large, realistic users files (formats.md §3.6), deterministic: the same row
//! count always gives the same bytes.
//!
//! Columns: `username;firstname;lastname;email;idnumber;city;country;institution;department`,
//! no `password` column (so no bcrypt in the measured run). Names come from a few hundred first
//! and last names (accents, compound and double names, apostrophes), combined with the row
//! number so that usernames, e-mails and idnumbers are unique. Some institution and department
//! values hold a `;` or a `"` and are quoted; a few cells carry blanks that the reader trims.
//!
//! [`Extras`] add, for the kill trials, a `password` column and rows that fail. They draw from a
//! random stream of their own: the other cells of every row are those of the plain file.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

pub const HEADER: &str =
    "username;firstname;lastname;email;idnumber;city;country;institution;department";

/// SplitMix64: small, fast, good enough to vary names, and the same on every platform.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform enough in `0..n` for n far below 2^32.
    pub fn below(&mut self, n: usize) -> usize {
        (((self.next_u64() >> 32) * n as u64) >> 32) as usize
    }

    pub fn pick<'a>(&mut self, list: &[&'a str]) -> &'a str {
        list[self.below(list.len())]
    }

    /// True with probability `percent` / 100.
    pub fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

#[rustfmt::skip]
const FIRST_NAMES: &[&str] = &[
    "Jean", "Marie", "Pierre", "Anne", "Louis", "Camille", "Léa", "Chloé", "Zoé", "Inès", "Noémie",
    "Anaïs", "Hélène", "Gaëlle", "Maëlle", "Joël", "Raphaël", "Mickaël", "Noël", "Loïc", "Héloïse",
    "Amélie", "Céline", "Valérie", "Sébastien", "Jérôme", "Frédéric", "Benoît", "François",
    "Françoise", "Cécile", "Thérèse", "Agnès", "Renée", "André", "René", "Stéphane", "Aurélien",
    "Élodie", "Émilie", "Éric", "Étienne", "Ève", "Irène", "Mathéo", "Timothée", "Clément",
    "Jérémie", "Ségolène", "Bérénice", "Thomas", "Nicolas", "Julien", "Antoine", "Hugo", "Lucas",
    "Manon", "Sarah", "Julie", "Laura", "Emma", "Jade", "Louise", "Alice", "Lina", "Rose", "Anna",
    "Léon", "Gabriel", "Arthur", "Jules", "Adam", "Paul", "Victor", "Martin", "Nathan", "Théo",
    "José", "María", "Lucía", "Sofía", "Martín", "Mateo", "Álvaro", "Inés", "Andrés", "Jesús",
    "Raúl", "Ramón", "Begoña", "Íñigo", "Ángela", "Rocío", "Mónica", "Verónica", "Nuño", "Joaquín",
    "Jürgen", "Jörg", "Björn", "Günter", "Käthe", "Jürgen", "Lukas", "Felix", "Maximilian",
    "Sophie", "Hannah", "Lena", "Mia", "Leonie", "Ursula", "Helga", "Wolfgang", "Dieter",
    "Søren", "Åsa", "Ørjan", "Sigrún", "Þóra", "Ingrid", "Astrid", "Lars", "Henrik", "Freya",
    "João", "Gonçalo", "Conceição", "Leonor", "Tomás", "Beatriz", "Matilde", "Rodrigo",
    "Giuseppe", "Giulia", "Francesca", "Niccolò", "Lorenzo", "Chiara", "Alessandro", "Martina",
    "Łukasz", "Paweł", "Małgorzata", "Wojciech", "Agnieszka", "Zdeněk", "Jiří", "Tereza",
    "Ștefan", "Ioana", "Mihai", "Andreea", "Zoltán", "Réka", "Ágnes", "Dávid", "Çağla", "Ömer",
    "Şebnem", "Gökhan", "Aylin", "Mehmet", "Fatima", "Youssef", "Karim", "Nadia", "Amine",
    "Mohamed", "Aïcha", "Yasmine", "Rachid", "Samir", "Leila", "Olga", "Dmitri", "Natalia",
    "Ivan", "Svetlana", "Kenji", "Yuki", "Haruto", "Mei", "Wei", "Li", "Minh", "Thảo", "Nguyên",
    "Arjun", "Priya", "Aditi", "Rahul", "Sanjay", "Kwame", "Ama", "Chidi", "Ngozi", "Oluwaseun",
    "Siobhán", "Seán", "Niamh", "Aoife", "Pádraig", "Eilís", "Ciarán", "Liam", "Olivia", "Noah",
    "Emily", "Jack", "Grace", "Oliver", "Charlotte", "William", "James", "Isabella", "Ethan",
];

#[rustfmt::skip]
const LAST_NAMES: &[&str] = &[
    "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy",
    "Moreau", "Simon", "Laurent", "Lefèvre", "Michel", "Garcia", "David", "Bertrand", "Roux",
    "Vincent", "Fournier", "Morel", "Girard", "André", "Lefebvre", "Mercier", "Dupont",
    "Lambert", "Bonnet", "François", "Martinez", "Légaré", "Hébert", "Gagné", "Bélanger",
    "Côté", "Lévesque", "Bérubé", "Gélinas", "Thériault", "Pâquet", "Desrosiers", "Gauthier",
    "Chevalier", "Lemaître", "Boulanger", "Rivière", "Faure", "Guérin", "Muller", "Héraud",
    "Rémy", "Noël", "Brûlé", "Crépeau", "Lacroix", "Duchêne", "Bélair", "Pelletier", "Ménard",
    "D'Amour", "D'Arcy", "O'Brien", "O'Neill", "L'Heureux", "Le Gall", "Le Goff", "Le Roux",
    "de la Fontaine", "de Villiers", "du Pont", "Van der Berg", "van Dijk", "De Smet",
    "García", "Fernández", "González", "Rodríguez", "López", "Martínez", "Sánchez", "Pérez",
    "Gómez", "Jiménez", "Hernández", "Díaz", "Muñoz", "Álvarez", "Romero", "Ibáñez", "Núñez",
    "Peña", "Castaño", "Suárez", "Müller", "Schmidt", "Schneider", "Fischer", "Weiß", "Meyer",
    "Wagner", "Becker", "Schäfer", "Köhler", "Groß", "Krüger", "Hoffmann", "Schröder",
    "Jørgensen", "Sørensen", "Åberg", "Öberg", "Ångström", "Lindqvist", "Nyström", "Björk",
    "Þórsson", "Guðmundsdóttir", "Silva", "Santos", "Conceição", "Gonçalves", "Magalhães",
    "Simões", "Brandão", "Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo",
    "Ricci", "Nowak", "Kowalski", "Wiśniewski", "Wójcik", "Kamiński", "Lewandowski", "Zieliński",
    "Dvořák", "Novák", "Černý", "Procházka", "Kučera", "Popescu", "Ionescu", "Nagy", "Kovács",
    "Tóth", "Szabó", "Horváth", "Yılmaz", "Kaya", "Demir", "Şahin", "Çelik", "Öztürk", "Benali",
    "Haddad", "El Amrani", "Benmoussa", "Bouaziz", "Chérif", "Ivanov", "Smirnov", "Kuznetsov",
    "Popov", "Sokolov", "Tanaka", "Suzuki", "Takahashi", "Watanabe", "Wang", "Zhang", "Chen",
    "Nguyễn", "Trần", "Lê", "Phạm", "Sharma", "Patel", "Singh", "Gupta", "Mensah", "Okafor",
    "Adeyemi", "Ó Briain", "Mac Giolla", "Ní Bhriain", "Murphy", "Kelly", "Smith", "Johnson",
    "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson", "Anderson", "Taylor", "Moore",
];

#[rustfmt::skip]
const PLACES: &[(&str, &str)] = &[
    ("Paris", "FR"), ("Lyon", "FR"), ("Saint-Étienne", "FR"), ("Orléans", "FR"),
    ("Besançon", "FR"), ("Nîmes", "FR"), ("Béziers", "FR"), ("Clermont-Ferrand", "FR"),
    ("Aix-en-Provence", "FR"), ("Pointe-à-Pitre", "FR"), ("Montréal", "CA"), ("Québec", "CA"),
    ("Trois-Rivières", "CA"), ("Genève", "CH"), ("Zürich", "CH"), ("Neuchâtel", "CH"),
    ("Bruxelles", "BE"), ("Liège", "BE"), ("Luxembourg", "LU"), ("München", "DE"),
    ("Köln", "DE"), ("Düsseldorf", "DE"), ("Wien", "AT"), ("Madrid", "ES"), ("Córdoba", "ES"),
    ("Málaga", "ES"), ("A Coruña", "ES"), ("Lisboa", "PT"), ("Évora", "PT"), ("Roma", "IT"),
    ("Forlì", "IT"), ("København", "DK"), ("Malmö", "SE"), ("Göteborg", "SE"), ("Tromsø", "NO"),
    ("Reykjavík", "IS"), ("Kraków", "PL"), ("Łódź", "PL"), ("Brno", "CZ"), ("Plzeň", "CZ"),
    ("Iași", "RO"), ("Pécs", "HU"), ("İstanbul", "TR"), ("Dakar", "SN"), ("Abidjan", "CI"),
    ("Casablanca", "MA"), ("Tunis", "TN"), ("Hà Nội", "VN"), ("São Paulo", "BR"),
    ("Bogotá", "CO"), ("Ciudad de México", "MX"), ("Dublin", "IE"), ("London", "GB"),
    ("New York", "US"), ("Tōkyō", "JP"),
];

const INSTITUTIONS: &[&str] = &[
    "Université Claude Bernard Lyon 1",
    "Université de Montréal",
    "Sorbonne Université",
    "Université Paris Cité; site Odéon",
    "Lycée \"Les Pins\"",
    "Lycée polytechnique Léonard-de-Vinci",
    "École normale supérieure",
    "Collège Jean-Moulin; annexe Nord",
    "Universidad Complutense de Madrid",
    "Universität Zürich",
    "Technische Universität München",
    "Uniwersytet Jagielloński",
    "Universidade de Lisboa",
    "Institut national des sciences appliquées",
    "IUT de Béziers",
    "CFA \"Métiers du bâtiment\"; Nîmes",
    "Académie de Créteil",
    "Københavns Universitet",
    "Trinity College Dublin",
    "Open University",
];

const DEPARTMENTS: &[&str] = &[
    "Mathématiques",
    "Physique; chimie",
    "Lettres modernes",
    "Sciences économiques et sociales",
    "Informatique",
    "Génie électrique; automatique",
    "Histoire-géographie",
    "Langues étrangères appliquées",
    "Éducation physique et sportive",
    "Biologie; écologie; géologie",
    "Médecine",
    "Droit privé",
    "Secrétariat \"Scolarité\"",
    "Ressources humaines",
    "Direction des systèmes d'information",
    "",
    "",
];

#[rustfmt::skip]
const DOMAINS: &[&str] = &[
    "example.org", "example.com", "univ-example.fr", "etu.example.fr", "mail.example.net",
    "ac-example.fr", "example.edu", "example.ca",
];

/// ASCII, lower case, only `a-z 0-9` (the allowed username characters minus separators).
pub fn slug(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars().flat_map(char::to_lowercase) {
        let plain = match c {
            'a'..='z' | '0'..='9' => {
                out.push(c);
                continue;
            }
            'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ą' | 'ă' | 'ạ' | 'ả' | 'ầ' => "a",
            'æ' => "ae",
            'ç' | 'č' | 'ć' => "c",
            'ð' | 'đ' => "d",
            'è' | 'é' | 'ê' | 'ë' | 'ę' | 'ě' | 'ễ' | 'ệ' => "e",
            'ğ' => "g",
            'ì' | 'í' | 'î' | 'ï' | 'ı' => "i",
            'ł' => "l",
            'ñ' | 'ń' | 'ň' => "n",
            'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ố' | 'ồ' | 'ộ' => "o",
            'œ' => "oe",
            'ř' => "r",
            'ß' => "ss",
            'š' | 'ś' | 'ş' | 'ș' => "s",
            'þ' => "th",
            'ù' | 'ú' | 'û' | 'ü' | 'ů' | 'ư' | 'ự' => "u",
            'ý' | 'ÿ' => "y",
            'ž' | 'ź' | 'ż' => "z",
            _ => "",
        };
        out.push_str(plain);
    }
    out
}

/// A CSV cell, quoted (with `""` for `"`) when it holds the delimiter or a quote.
fn cell(out: &mut Vec<u8>, value: &str) {
    if value.contains([';', '"', '\n']) {
        out.push(b'"');
        for b in value.bytes() {
            if b == b'"' {
                out.push(b'"');
            }
            out.push(b);
        }
        out.push(b'"');
    } else {
        out.extend_from_slice(value.as_bytes());
    }
}

/// A bijection of `0..10^10` so that idnumbers are unique but not in file order.
fn scrambled(n: u64) -> u64 {
    const MODULUS: u64 = 10_000_000_000;
    // 7_919_333_337 is odd and not a multiple of 5: coprime to 10^10.
    ((n as u128 * 7_919_333_337u128 + 1_234_567) % MODULUS as u128) as u64
}

/// One data line (with its `\n`) for row `n` (0-based).
pub fn row(rng: &mut Rng, n: u64, out: &mut Vec<u8>) -> String {
    let first = if rng.chance(8) {
        format!("{}-{}", rng.pick(FIRST_NAMES), rng.pick(FIRST_NAMES))
    } else {
        rng.pick(FIRST_NAMES).to_string()
    };
    let last = if rng.chance(5) {
        format!("{} {}", rng.pick(LAST_NAMES), rng.pick(LAST_NAMES))
    } else {
        rng.pick(LAST_NAMES).to_string()
    };
    let (f, l) = (slug(&first), slug(&last));
    let f_initial = &f[..f.char_indices().nth(1).map_or(f.len(), |(i, _)| i)];
    let username = match rng.below(4) {
        0 => format!("{f}.{l}{n}"),
        1 => format!("{f_initial}{l}{n}"),
        2 => format!("{l}_{f}.{n}"),
        _ => format!("{f}-{l}-{n}"),
    };
    let domain = rng.pick(DOMAINS);
    let mut email = match rng.below(3) {
        0 => format!("{f}.{l}.{n}@{domain}"),
        1 => format!("{f_initial}{l}{n}@{domain}"),
        _ => format!("{username}@{domain}"),
    };
    if rng.chance(10) {
        // Mixed case: e-mails are compared case-insensitively.
        let mut chars = email.chars();
        if let Some(c) = chars.next() {
            email = c.to_uppercase().chain(chars).collect();
        }
    }
    let idnumber = match rng.below(3) {
        0 => format!("{:010}", scrambled(n)),
        1 => format!("E{:010}", scrambled(n)),
        _ => format!("STU-{:010}", scrambled(n)),
    };
    let (city, country) = PLACES[rng.below(PLACES.len())];
    let institution = rng.pick(INSTITUTIONS);
    let department = rng.pick(DEPARTMENTS);

    for (i, value) in [
        username.as_str(),
        first.as_str(),
        last.as_str(),
        email.as_str(),
        idnumber.as_str(),
        city,
        country,
        institution,
        department,
    ]
    .into_iter()
    .enumerate()
    {
        if i > 0 {
            out.push(b';');
        }
        if i == 1 && rng.chance(3) {
            // Blanks around a value, as spreadsheets leave them; the reader trims them.
            out.extend_from_slice(b" ");
            cell(out, value);
            out.extend_from_slice(b" ");
        } else {
            cell(out, value);
        }
    }
    out.push(b'\n');
    username
}

/// What a generated file holds besides the plain accounts (none by default: the benchmark's file).
#[derive(Debug, Clone, Copy, Default)]
pub struct Extras {
    /// A last column, `password`, set on one row in `n` (hashed by bcrypt: its cost makes a row
    /// slow) and empty on the others. Some passwords hold a `;` or a `"` and are quoted.
    pub password_every: Option<u64>,
    /// One row in `n` fails, in turn: a username with a blank; with a password column, a
    /// password over bcrypt's 72 bytes, and a password holding an unquoted `;` (one field too
    /// many: a malformed record, whose secret the archive must still empty).
    pub bad_every: Option<u64>,
}

impl Extras {
    /// The header line, without its line end.
    pub fn header(&self) -> String {
        match self.password_every {
            Some(_) => format!("{HEADER};password"),
            None => HEADER.to_string(),
        }
    }

    /// Changes row `n`, as [`row`] wrote it into `line` (with its `\n`), by drawing from
    /// `rng`, the extras' own stream.
    fn apply(&self, rng: &mut Rng, n: u64, line: &mut Vec<u8>) {
        let bad = self.bad_every.filter(|every| n % every == every - 1);
        let kinds = if self.password_every.is_some() { 3 } else { 1 };
        let bad_kind = bad.map(|every| (n / every) % kinds);
        if bad_kind == Some(0) {
            // `bad jean.dupont12`: a blank is not allowed in a username.
            line.splice(0..0, b"bad ".iter().copied());
        }
        let Some(every) = self.password_every else {
            return;
        };
        line.pop(); // the `\n`, put back below
        line.push(b';');
        match bad_kind {
            Some(1) => line.extend(std::iter::repeat_n(b'x', 80)),
            Some(2) => line.extend_from_slice(format!("Split;{n}").as_bytes()),
            _ if n % every == every / 2 => cell(line, &password(rng)),
            _ => {}
        }
        line.push(b'\n');
    }
}

/// 8 to 16 characters; one in ten holds a `;` or a `"`, which the file quotes.
fn password(rng: &mut Rng) -> String {
    const CHARS: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789-_!?*";
    let length = 8 + rng.below(9);
    let mut password: String = (0..length)
        .map(|_| char::from(CHARS[rng.below(CHARS.len())]))
        .collect();
    if rng.chance(10) {
        let at = rng.below(password.len());
        password.insert(at, if rng.chance(50) { ';' } else { '"' });
    }
    password
}

/// Writes a users file of `rows` data rows; returns the last row's username (a row the store
/// must know after a complete run).
pub fn write_file(path: &Path, rows: u64) -> std::io::Result<String> {
    write_file_with(path, rows, Extras::default())
}

/// [`write_file`], with `extras` (the username returned is the last row's as [`row`] made it:
/// with `bad_every`, that row may be one that fails).
pub fn write_file_with(path: &Path, rows: u64, extras: Extras) -> std::io::Result<String> {
    if let Some(dir) = path.parent() {
        if !dir.as_os_str().is_empty() {
            std::fs::create_dir_all(dir)?;
        }
    }
    let mut file = BufWriter::with_capacity(1 << 20, File::create(path)?);
    file.write_all(extras.header().as_bytes())?;
    file.write_all(b"\n")?;
    let mut rng = Rng::new(0x7001_5A9C);
    let mut extras_rng = Rng::new(0x0E87_2A55);
    let mut line = Vec::with_capacity(512);
    let mut last = String::new();
    for n in 0..rows {
        line.clear();
        last = row(&mut rng, n, &mut line);
        extras.apply(&mut extras_rng, n, &mut line);
        file.write_all(&line)?;
    }
    file.flush()?;
    Ok(last)
}
