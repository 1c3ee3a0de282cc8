//! The built-in `demo` database: deterministic synthetic MovieLens-shaped tables that need
//! nothing outside the binary, so the reference workflow runs on a fresh machine.
//!
//! The data are synthetic (not MovieLens): 943 users, 1,682 movies and exactly 100,000
//! ratings, with a structure a recommender can learn. Each user's taste is a preference for
//! some genres, partly shared with users of the same age band, gender and occupation; movies
//! have one to three genres, a quality and a power-law popularity. Users rate popular movies
//! and movies of their genres more often, and rate movies of their genres higher. The tables
//! are generated once, on first use, from a fixed seed. Nothing here is read from disk.

use std::collections::HashSet;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{ArrayRef, Int64Array, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::{MemTable, SchemaProvider, TableProvider};
use datafusion::error::{DataFusionError, Result};
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use tokio::sync::OnceCell;

pub const N_USERS: usize = 943;
pub const N_MOVIES: usize = 1682;
pub const N_RATINGS: usize = 100_000;
const SEED: u64 = 0x5eed_1682;
const TABLES: &[&str] = &["movie_lens_ratings", "movies", "users"];

pub const GENRES: &[&str] = &[
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
];
const OCCUPATIONS: &[&str] = &[
    "administrator",
    "artist",
    "doctor",
    "educator",
    "engineer",
    "entertainment",
    "executive",
    "healthcare",
    "homemaker",
    "lawyer",
    "librarian",
    "marketing",
    "none",
    "other",
    "programmer",
    "retired",
    "salesman",
    "scientist",
    "student",
    "technician",
    "writer",
];
const TITLE_A: &[&str] = &[
    "Silent", "Broken", "Golden", "Last", "Hidden", "Crimson", "Endless", "Lonely", "Wild",
    "Midnight", "Frozen", "Distant", "Secret", "Burning", "Little", "Dark", "Lost", "Brave",
];
const TITLE_B: &[&str] = &[
    "River", "Empire", "Garden", "Train", "Horizon", "Mirror", "Island", "Letter", "Storm",
    "Promise", "Voyage", "Kingdom", "Shadow", "Summer", "Harbor", "Dream", "Road", "Heart",
];

/// The generated tables.
pub struct DemoData {
    pub ratings: RecordBatch,
    pub movies: RecordBatch,
    pub users: RecordBatch,
}

fn normal(rng: &mut SmallRng) -> f64 {
    // Box-Muller
    let u1: f64 = rng.random_range(f64::EPSILON..1.0);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// Generates the demo tables; the same call always gives the same data.
pub fn generate() -> DemoData {
    let mut rng = SmallRng::seed_from_u64(SEED);
    let g = GENRES.len();

    // Users: demographics, and a genre taste shared in part with their demographic group.
    let n_groups = 4 * 2 * OCCUPATIONS.len();
    let group_taste: Vec<Vec<f64>> = (0..n_groups)
        .map(|_| (0..g).map(|_| normal(&mut rng)).collect())
        .collect();
    let mut ages = Vec::with_capacity(N_USERS);
    let mut genders = Vec::with_capacity(N_USERS);
    let mut occupations = Vec::with_capacity(N_USERS);
    let mut tastes = Vec::with_capacity(N_USERS);
    for _ in 0..N_USERS {
        let age: i64 = (18.0 + 12.0 * normal(&mut rng).abs() + rng.random_range(0.0..20.0)) as i64;
        let age = age.clamp(7, 73);
        let gender = if rng.random_bool(0.71) { "M" } else { "F" };
        let occ = rng.random_range(0..OCCUPATIONS.len());
        let band = match age {
            ..25 => 0,
            25..35 => 1,
            35..50 => 2,
            _ => 3,
        };
        let group = (band * 2 + usize::from(gender == "F")) * OCCUPATIONS.len() + occ;
        let taste: Vec<f64> = (0..g)
            .map(|k| 0.8 * group_taste[group][k] + 0.6 * normal(&mut rng))
            .collect();
        ages.push(age);
        genders.push(gender);
        occupations.push(OCCUPATIONS[occ]);
        tastes.push(taste);
    }

    // Movies: genres, quality, release year and power-law popularity.
    let mut movie_genres: Vec<Vec<usize>> = Vec::with_capacity(N_MOVIES);
    let mut quality = Vec::with_capacity(N_MOVIES);
    let mut years = Vec::with_capacity(N_MOVIES);
    let mut titles = Vec::with_capacity(N_MOVIES);
    for m in 0..N_MOVIES {
        let k = 1 + usize::from(rng.random_bool(0.5)) + usize::from(rng.random_bool(0.2));
        let mut gs: Vec<usize> = Vec::with_capacity(k);
        while gs.len() < k {
            // Drama and Comedy are the most common genres, as in MovieLens.
            let pick = if rng.random_bool(0.3) {
                [7, 4][rng.random_range(0..2)]
            } else {
                rng.random_range(0..g)
            };
            if !gs.contains(&pick) {
                gs.push(pick);
            }
        }
        gs.sort_unstable();
        movie_genres.push(gs);
        quality.push(0.6 * normal(&mut rng));
        years.push(rng.random_range(1930..=1998_i64));
        titles.push(format!(
            "{} {} {}",
            TITLE_A[rng.random_range(0..TITLE_A.len())],
            TITLE_B[rng.random_range(0..TITLE_B.len())],
            m + 1
        ));
    }
    // Popularity: a shuffled Zipf-like weight, so ids carry no popularity order.
    let mut order: Vec<usize> = (0..N_MOVIES).collect();
    for i in (1..N_MOVIES).rev() {
        order.swap(i, rng.random_range(0..=i));
    }
    let mut popularity = vec![0.0f64; N_MOVIES];
    for (rank, &m) in order.iter().enumerate() {
        popularity[m] = 1.0 / (rank as f64 + 8.0).powf(0.95);
    }
    let mut cumulative = Vec::with_capacity(N_MOVIES);
    let mut acc = 0.0;
    for p in &popularity {
        acc += p;
        cumulative.push(acc);
    }

    // Ratings per user: skewed counts (at least 20) scaled to exactly N_RATINGS.
    let raw: Vec<f64> = (0..N_USERS)
        .map(|_| (normal(&mut rng) * 0.9).exp())
        .collect();
    let total: f64 = raw.iter().sum();
    let spare = (N_RATINGS - 20 * N_USERS) as f64;
    let mut counts: Vec<usize> = raw
        .iter()
        .map(|r| (20 + (spare * r / total) as usize).min(N_MOVIES / 2))
        .collect();
    let mut missing = N_RATINGS as i64 - counts.iter().sum::<usize>() as i64;
    let mut u = 0;
    while missing != 0 {
        if missing > 0 && counts[u] < N_MOVIES / 2 {
            counts[u] += 1;
            missing -= 1;
        } else if missing < 0 && counts[u] > 20 {
            counts[u] -= 1;
            missing += 1;
        }
        u = (u + 1) % N_USERS;
    }

    let affinity = |user: usize, movie: usize| -> f64 {
        let gs = &movie_genres[movie];
        gs.iter().map(|&k| tastes[user][k]).sum::<f64>() / gs.len() as f64
    };

    let mut user_col = Vec::with_capacity(N_RATINGS);
    let mut movie_col = Vec::with_capacity(N_RATINGS);
    let mut rating_col = Vec::with_capacity(N_RATINGS);
    let mut time_col = Vec::with_capacity(N_RATINGS);
    let mut seen = HashSet::new();
    for (user, &count) in counts.iter().enumerate() {
        seen.clear();
        let start: i64 = 874_724_710 + rng.random_range(0..18_000_000);
        while seen.len() < count {
            let x = rng.random_range(0.0..acc);
            let movie = cumulative.partition_point(|&c| c < x).min(N_MOVIES - 1);
            let a = affinity(user, movie);
            // Users mostly watch what they expect to like.
            let accept = 1.0 / (1.0 + (-(1.6 * a - 0.2)).exp());
            if seen.contains(&movie) || !rng.random_bool(accept) {
                continue;
            }
            seen.insert(movie);
            let score = 3.4 + 0.9 * a + quality[movie] + 0.7 * normal(&mut rng);
            let rating = score.round().clamp(1.0, 5.0) as i64;
            user_col.push(user as i64 + 1);
            movie_col.push(movie as i64 + 1);
            rating_col.push(rating);
            time_col.push(start + rng.random_range(0..4_000_000));
        }
    }

    let ratings_schema = Arc::new(Schema::new(vec![
        Field::new("userId", DataType::Int64, false),
        Field::new("movieId", DataType::Int64, false),
        Field::new("rating", DataType::Int64, false),
        Field::new("timestamp", DataType::Int64, false),
    ]));
    let ratings = batch(
        ratings_schema,
        vec![
            Arc::new(Int64Array::from(user_col)),
            Arc::new(Int64Array::from(movie_col)),
            Arc::new(Int64Array::from(rating_col)),
            Arc::new(Int64Array::from(time_col)),
        ],
    );

    let movies_schema = Arc::new(Schema::new(vec![
        Field::new("movieId", DataType::Int64, false),
        Field::new("title", DataType::Utf8, false),
        Field::new("genres", DataType::Utf8, false),
        Field::new("release_year", DataType::Int64, false),
    ]));
    let genre_text: Vec<String> = movie_genres
        .iter()
        .map(|gs| gs.iter().map(|&k| GENRES[k]).collect::<Vec<_>>().join(" "))
        .collect();
    let movies = batch(
        movies_schema,
        vec![
            Arc::new(Int64Array::from_iter_values(1..=N_MOVIES as i64)),
            Arc::new(StringArray::from(titles)),
            Arc::new(StringArray::from(genre_text)),
            Arc::new(Int64Array::from(years)),
        ],
    );

    let users_schema = Arc::new(Schema::new(vec![
        Field::new("userId", DataType::Int64, false),
        Field::new("age", DataType::Int64, false),
        Field::new("gender", DataType::Utf8, false),
        Field::new("occupation", DataType::Utf8, false),
    ]));
    let users = batch(
        users_schema,
        vec![
            Arc::new(Int64Array::from_iter_values(1..=N_USERS as i64)),
            Arc::new(Int64Array::from(ages)),
            Arc::new(StringArray::from(genders)),
            Arc::new(StringArray::from(occupations)),
        ],
    );

    DemoData {
        ratings,
        movies,
        users,
    }
}

fn batch(schema: Arc<Schema>, columns: Vec<ArrayRef>) -> RecordBatch {
    // The columns are built above to match the schema exactly.
    RecordBatch::try_new(schema, columns).expect("demo columns match their schema")
}

/// The `demo` schema; the data are generated on first use, off the async runtime.
#[derive(Debug, Default)]
pub struct DemoSchema {
    tables: OnceCell<Vec<(String, Arc<MemTable>)>>,
}

impl DemoSchema {
    pub fn new() -> Self {
        Self::default()
    }

    async fn tables(&self) -> Result<&Vec<(String, Arc<MemTable>)>> {
        self.tables
            .get_or_try_init(|| async {
                let data = tokio::task::spawn_blocking(generate)
                    .await
                    .map_err(|e| DataFusionError::External(Box::new(e)))?;
                let mut out = Vec::new();
                for (name, b) in [
                    ("movie_lens_ratings", data.ratings),
                    ("movies", data.movies),
                    ("users", data.users),
                ] {
                    // Several partitions let DataFusion scan in parallel.
                    let rows = b.num_rows();
                    let parts = 4usize;
                    let step = rows.div_ceil(parts).max(1);
                    let partitions: Vec<Vec<RecordBatch>> = (0..rows)
                        .step_by(step)
                        .map(|off| vec![b.slice(off, step.min(rows - off))])
                        .collect();
                    out.push((
                        name.to_string(),
                        Arc::new(MemTable::try_new(b.schema(), partitions)?),
                    ));
                }
                Ok(out)
            })
            .await
    }
}

#[async_trait]
impl SchemaProvider for DemoSchema {
    fn table_names(&self) -> Vec<String> {
        TABLES.iter().map(|s| s.to_string()).collect()
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        if !TABLES.contains(&name) {
            return Ok(None);
        }
        let tables = self.tables().await?;
        Ok(tables
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, t)| t.clone() as Arc<dyn TableProvider>))
    }

    fn table_exist(&self, name: &str) -> bool {
        TABLES.contains(&name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::AsArray;
    use datafusion::arrow::datatypes::Int64Type;

    #[test]
    fn shape_is_movielens_like_and_deterministic() {
        let a = generate();
        assert_eq!(a.ratings.num_rows(), N_RATINGS);
        assert_eq!(a.movies.num_rows(), N_MOVIES);
        assert_eq!(a.users.num_rows(), N_USERS);
        let users = a.ratings.column(0).as_primitive::<Int64Type>();
        let movies = a.ratings.column(1).as_primitive::<Int64Type>();
        let mut pairs = HashSet::new();
        for i in 0..users.len() {
            assert!(
                pairs.insert((users.value(i), movies.value(i))),
                "duplicate pair"
            );
        }
        let distinct_users: HashSet<i64> = users.values().iter().copied().collect();
        assert_eq!(distinct_users.len(), N_USERS);
        let ratings = a.ratings.column(2).as_primitive::<Int64Type>();
        let positives = ratings.values().iter().filter(|&&r| r >= 4).count();
        assert!(
            (30_000..70_000).contains(&positives),
            "{positives} positives"
        );
        let b = generate();
        assert_eq!(a.ratings, b.ratings);
        assert_eq!(a.movies, b.movies);
    }
}
