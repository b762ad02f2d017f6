use crate::model::Labels;

#[derive(Clone, Debug)]
pub enum Expr {
    All,
}

impl Expr {
    pub fn matches(&self, _labels: &Labels) -> bool {
        true
    }

    pub fn selects_all(&self) -> bool {
        true
    }
}
