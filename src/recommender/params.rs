//! Hyper-parameters: [`Params`] (defaults written where the setters are) → [`Params::validate`]
//! → [`ValidParams`], the only form the trainer accepts. Defaults are LightFM's, except where
//! a caller (the SQL layer) sets the reference handler's.

use std::fmt;

/// The loss function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Loss {
    Logistic,
    Bpr,
    Warp,
    WarpKos,
}

impl Loss {
    pub const NAMES: &'static [&'static str] = &["logistic", "bpr", "warp", "warp-kos"];

    pub fn parse(s: &str) -> Option<Loss> {
        match s.to_ascii_lowercase().as_str() {
            "logistic" => Some(Loss::Logistic),
            "bpr" => Some(Loss::Bpr),
            "warp" => Some(Loss::Warp),
            "warp-kos" | "warp_kos" => Some(Loss::WarpKos),
            _ => None,
        }
    }
}

impl fmt::Display for Loss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Loss::Logistic => "logistic",
            Loss::Bpr => "bpr",
            Loss::Warp => "warp",
            Loss::WarpKos => "warp-kos",
        })
    }
}

/// The per-parameter learning-rate schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Schedule {
    Adagrad,
    Adadelta,
}

impl Schedule {
    pub const NAMES: &'static [&'static str] = &["adagrad", "adadelta"];

    pub fn parse(s: &str) -> Option<Schedule> {
        match s.to_ascii_lowercase().as_str() {
            "adagrad" => Some(Schedule::Adagrad),
            "adadelta" => Some(Schedule::Adadelta),
            _ => None,
        }
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Schedule::Adagrad => "adagrad",
            Schedule::Adadelta => "adadelta",
        })
    }
}

/// Unvalidated hyper-parameters.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Params {
    pub loss: Loss,
    pub no_components: usize,
    pub learning_rate: f64,
    pub schedule: Schedule,
    pub rho: f64,
    pub epsilon: f64,
    pub item_alpha: f64,
    pub user_alpha: f64,
    pub max_sampled: usize,
    pub k: usize,
    pub n: usize,
    pub epochs: usize,
    pub num_threads: usize,
    pub random_state: u64,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            loss: Loss::Logistic,
            no_components: 10,
            learning_rate: 0.05,
            schedule: Schedule::Adagrad,
            rho: 0.95,
            epsilon: 1e-6,
            item_alpha: 0.0,
            user_alpha: 0.0,
            max_sampled: 10,
            k: 5,
            n: 10,
            epochs: 10,
            num_threads: 1,
            random_state: 42,
        }
    }
}

/// A parameter that is out of range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamError {
    pub name: &'static str,
    pub message: String,
}

impl fmt::Display for ParamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.name, self.message)
    }
}

impl std::error::Error for ParamError {}

/// Hyper-parameters that passed validation.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidParams(Params);

impl std::ops::Deref for ValidParams {
    type Target = Params;
    fn deref(&self) -> &Params {
        &self.0
    }
}

fn check(ok: bool, name: &'static str, message: &str) -> Result<(), ParamError> {
    if ok {
        Ok(())
    } else {
        Err(ParamError {
            name,
            message: message.to_string(),
        })
    }
}

impl Params {
    pub fn loss(mut self, loss: Loss) -> Self {
        self.loss = loss;
        self
    }
    pub fn no_components(mut self, d: usize) -> Self {
        self.no_components = d;
        self
    }
    pub fn learning_rate(mut self, lr: f64) -> Self {
        self.learning_rate = lr;
        self
    }
    pub fn schedule(mut self, s: Schedule) -> Self {
        self.schedule = s;
        self
    }
    pub fn epochs(mut self, e: usize) -> Self {
        self.epochs = e;
        self
    }
    pub fn num_threads(mut self, t: usize) -> Self {
        self.num_threads = t;
        self
    }
    pub fn random_state(mut self, seed: u64) -> Self {
        self.random_state = seed;
        self
    }
    pub fn max_sampled(mut self, m: usize) -> Self {
        self.max_sampled = m;
        self
    }
    pub fn alphas(mut self, item_alpha: f64, user_alpha: f64) -> Self {
        self.item_alpha = item_alpha;
        self.user_alpha = user_alpha;
        self
    }

    /// Checks every range; the error names the parameter and what it accepts.
    pub fn validate(self) -> Result<ValidParams, ParamError> {
        check(
            (1..=1024).contains(&self.no_components),
            "no_components",
            "must be between 1 and 1024",
        )?;
        check(
            self.learning_rate.is_finite()
                && self.learning_rate > 0.0
                && self.learning_rate <= 10.0,
            "learning_rate",
            "must be a number above 0 and at most 10",
        )?;
        check(
            self.rho > 0.0 && self.rho < 1.0,
            "rho",
            "must be strictly between 0 and 1",
        )?;
        check(
            self.epsilon.is_finite() && self.epsilon >= 0.0,
            "epsilon",
            "must be 0 or more",
        )?;
        check(
            self.item_alpha.is_finite() && self.item_alpha >= 0.0,
            "item_alpha",
            "must be 0 or more",
        )?;
        check(
            self.user_alpha.is_finite() && self.user_alpha >= 0.0,
            "user_alpha",
            "must be 0 or more",
        )?;
        check(
            (1..=100_000).contains(&self.max_sampled),
            "max_sampled",
            "must be between 1 and 100000",
        )?;
        check(
            (1..=10_000).contains(&self.k),
            "k",
            "must be between 1 and 10000",
        )?;
        check(
            (1..=10_000).contains(&self.n),
            "n",
            "must be between 1 and 10000",
        )?;
        check(
            (1..=100_000).contains(&self.epochs),
            "epochs",
            "must be between 1 and 100000",
        )?;
        check(
            (1..=1024).contains(&self.num_threads),
            "num_threads",
            "must be between 1 and 1024",
        )?;
        Ok(ValidParams(self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_lightfms_and_validate() {
        let p = Params::default();
        assert_eq!(p.loss, Loss::Logistic);
        assert_eq!(p.no_components, 10);
        assert!(p.validate().is_ok());
    }

    #[test]
    fn out_of_range_values_name_the_parameter() {
        let e = Params::default().no_components(0).validate().unwrap_err();
        assert_eq!(e.name, "no_components");
        let e = Params::default()
            .learning_rate(f64::NAN)
            .validate()
            .unwrap_err();
        assert_eq!(e.name, "learning_rate");
        assert_eq!(Loss::parse("WARP-KOS"), Some(Loss::WarpKos));
        assert_eq!(Loss::parse("hinge"), None);
    }
}
