//! CREATE MODEL's USING clause → a typed [`ModelSpec`]: the reference handler's keys
//! (`user_id`, `item_id`, `threshold`, `n_recommendations`, `evaluation`), every LightFM
//! hyper-parameter, `rating_column`, and side features (`user_features`,
//! `user_feature_columns`, `item_features`, `item_feature_columns`, `identity_features`).
//! Defaults are the reference handler's (warp, 10 epochs, learning rate 0.05, 10
//! components, random_state 42).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::recommender::{Loss, Params, Schedule};
use crate::sql::{Options, UsingOption, UsingValue};

pub const CREATE_MODEL_KEYS: &[&str] = &[
    "engine",
    "user_id",
    "item_id",
    "rating_column",
    "threshold",
    "n_recommendations",
    "evaluation",
    "loss",
    "no_components",
    "learning_rate",
    "learning_schedule",
    "rho",
    "epsilon",
    "item_alpha",
    "user_alpha",
    "max_sampled",
    "k",
    "n",
    "epochs",
    "num_threads",
    "random_state",
    "tag",
    "user_features",
    "user_feature_columns",
    "item_features",
    "item_feature_columns",
    "identity_features",
];

/// Side features of users or items: a table with the id column and feature columns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SideFeatures {
    /// `database.table`
    pub table: String,
    pub columns: Vec<String>,
    /// The columns that are numeric in the table (quantile buckets), recorded at training.
    #[serde(default)]
    pub numeric: Vec<String>,
}

/// What a model is trained from and with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelSpec {
    pub user_col: String,
    pub item_col: String,
    /// The rating column; when the source has no such column every row is a positive.
    pub rating_col: String,
    pub threshold: Option<f64>,
    pub n_recommendations: usize,
    pub evaluation: bool,
    pub params: Params,
    pub tag: Option<String>,
    #[serde(default)]
    pub user_features: Option<SideFeatures>,
    #[serde(default)]
    pub item_features: Option<SideFeatures>,
    /// Keep each user's and item's own identity feature beside the side features.
    #[serde(default = "yes")]
    pub identity_features: bool,
}

fn yes() -> bool {
    true
}

fn side_features(o: &Options, table_key: &str, columns_key: &str) -> Result<Option<SideFeatures>> {
    let table = o.text(table_key)?;
    let columns = match o.get(columns_key) {
        None | Some(UsingValue::Null) => None,
        Some(UsingValue::List(items)) => Some(
            items
                .iter()
                .map(|v| match v {
                    UsingValue::Str(s) => Ok(s.clone()),
                    other => Err(Error::invalid_value(format!(
                        "USING {columns_key} takes a list of column names, found {other}"
                    ))),
                })
                .collect::<Result<Vec<_>>>()?,
        ),
        Some(UsingValue::Str(s)) => Some(
            s.split(',')
                .map(|c| c.trim().to_string())
                .filter(|c| !c.is_empty())
                .collect(),
        ),
        Some(other) => {
            return Err(Error::invalid_value(format!(
                "USING {columns_key} takes a list of column names such as ['genres', 'release_year'], found {other}"
            )));
        }
    };
    match (table, columns) {
        (None, None) => Ok(None),
        (Some(table), Some(columns)) if !columns.is_empty() => Ok(Some(SideFeatures {
            table,
            columns,
            numeric: Vec::new(),
        })),
        (Some(_), _) => Err(Error::invalid_value(format!(
            "USING {table_key} needs {columns_key} = ['column', ...] naming the feature columns"
        ))),
        (None, Some(_)) => Err(Error::invalid_value(format!(
            "USING {columns_key} needs {table_key} = 'database.table'"
        ))),
    }
}

impl ModelSpec {
    pub fn from_using(using: &[UsingOption]) -> Result<ModelSpec> {
        let o = Options::new(using, CREATE_MODEL_KEYS, "CREATE MODEL")?;
        let required = |key: &str| -> Result<String> {
            o.text(key)?.ok_or_else(|| {
                Error::invalid_value(format!("CREATE MODEL needs USING {key} = '<column>'"))
                    .with_hint("for example USING user_id = 'userId', item_id = 'movieId'")
            })
        };
        let defaults = Params::default();
        let threads = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        let params = Params {
            loss: o
                .choice("loss", Loss::NAMES)?
                .and_then(|s| Loss::parse(&s))
                .unwrap_or(Loss::Warp),
            no_components: o.integer("no_components", 1..=1024)?.unwrap_or(10) as usize,
            learning_rate: o.number("learning_rate")?.unwrap_or(0.05),
            schedule: o
                .choice("learning_schedule", Schedule::NAMES)?
                .and_then(|s| Schedule::parse(&s))
                .unwrap_or(Schedule::Adagrad),
            rho: o.number("rho")?.unwrap_or(defaults.rho),
            epsilon: o.number("epsilon")?.unwrap_or(defaults.epsilon),
            item_alpha: o.number("item_alpha")?.unwrap_or(0.0),
            user_alpha: o.number("user_alpha")?.unwrap_or(0.0),
            max_sampled: o.integer("max_sampled", 1..=100_000)?.unwrap_or(10) as usize,
            k: o.integer("k", 1..=10_000)?.unwrap_or(5) as usize,
            n: o.integer("n", 1..=10_000)?.unwrap_or(10) as usize,
            epochs: o.integer("epochs", 1..=100_000)?.unwrap_or(10) as usize,
            num_threads: o
                .integer("num_threads", 1..=1024)?
                .unwrap_or(threads as u64) as usize,
            random_state: o
                .integer("random_state", 0..=u32::MAX as u64)?
                .unwrap_or(42),
        };
        params
            .clone()
            .validate()
            .map_err(|e| Error::invalid_value(format!("USING {e}")))?;
        Ok(ModelSpec {
            user_col: required("user_id")?,
            item_col: required("item_id")?,
            rating_col: o.text("rating_column")?.unwrap_or_else(|| "rating".into()),
            threshold: o.number("threshold")?,
            n_recommendations: o.integer("n_recommendations", 1..=100_000)?.unwrap_or(10) as usize,
            evaluation: o.boolean("evaluation")?.unwrap_or(false),
            params,
            tag: o.text("tag")?,
            user_features: side_features(&o, "user_features", "user_feature_columns")?,
            item_features: side_features(&o, "item_features", "item_feature_columns")?,
            identity_features: o.boolean("identity_features")?.unwrap_or(true),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::{Statement, parse_statement};

    fn using(sql: &str) -> Vec<UsingOption> {
        match parse_statement(sql).unwrap() {
            Statement::CreateModel { using, .. } => using,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn reference_defaults_and_overrides() {
        let s = ModelSpec::from_using(&using(
            "CREATE MODEL m FROM d (SELECT 1) PREDICT i USING engine = 'lightfm', item_id = 'movieId', user_id = 'userId', threshold = 4, n_recommendations = 10, evaluation = true",
        ))
        .unwrap();
        assert_eq!(s.params.loss, Loss::Warp);
        assert_eq!(s.params.epochs, 10);
        assert_eq!(s.params.random_state, 42);
        assert_eq!(s.threshold, Some(4.0));
        assert!(s.evaluation);
        let s = ModelSpec::from_using(&using(
            "CREATE MODEL m FROM d (SELECT 1) PREDICT i USING item_id = 'i', user_id = 'u', loss = 'bpr', no_components = 32, learning_schedule = 'adadelta'",
        ))
        .unwrap();
        assert_eq!(s.params.loss, Loss::Bpr);
        assert_eq!(s.params.no_components, 32);
        assert_eq!(s.params.schedule, Schedule::Adadelta);
    }

    #[test]
    fn bad_keys_and_values_are_named() {
        let e = ModelSpec::from_using(&using(
            "CREATE MODEL m FROM d (SELECT 1) PREDICT i USING item_id = 'i', user_id = 'u', epoch = 3",
        ))
        .unwrap_err();
        assert!(e.message.contains("epoch"));
        assert!(e.hint.unwrap().contains("epochs"));
        let e = ModelSpec::from_using(&using(
            "CREATE MODEL m FROM d (SELECT 1) PREDICT i USING item_id = 'i', user_id = 'u', loss = 'hinge'",
        ))
        .unwrap_err();
        assert!(e.message.contains("warp"), "{}", e.message);
        let e = ModelSpec::from_using(&using(
            "CREATE MODEL m FROM d (SELECT 1) PREDICT i USING item_id = 'i'",
        ))
        .unwrap_err();
        assert!(e.message.contains("user_id"));
        let e = ModelSpec::from_using(&using(
            "CREATE MODEL m FROM d (SELECT 1) PREDICT i USING item_id = 'i', user_id = 'u', learning_rate = 'fast'",
        ))
        .unwrap_err();
        assert!(e.message.contains("learning_rate"));
    }
}
