//! STUB
#![allow(missing_docs, unused)]
use std::ops::Range;
pub struct Pieces {
    pub text: String,
    pub ranges: Vec<Range<usize>>,
}
impl Pieces {
    pub fn new() -> Self {
        Pieces {
            text: String::new(),
            ranges: Vec::new(),
        }
    }
    pub fn reset(&mut self, text: &str) {
        self.text.clear();
        self.text.push_str(text);
        self.ranges.clear();
        if !text.is_empty() {
            self.ranges.push(0..text.len());
        }
    }
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.ranges.iter().map(|r| &self.text[r.clone()])
    }
}
#[derive(Debug)]
pub enum PreTokenizer {
    Split(Split),
}
impl PreTokenizer {
    pub fn pre_tokenize(&self, pieces: &mut Pieces) {
        todo!()
    }
    pub fn from_json(value: &serde_json::Value, path: &str) -> crate::Result<Self> {
        todo!()
    }
    pub fn is_byte_level(&self) -> bool {
        todo!()
    }
}
#[derive(Debug)]
pub struct Split;
impl Split {
    pub fn with_regex(r: Regex, b: SplitBehavior, invert: bool) -> Self {
        todo!()
    }
}
pub enum SplitBehavior {
    Removed,
    Isolated,
}
#[derive(Debug)]
pub enum Regex {
    Fancy,
}
impl Regex {
    pub fn fancy(p: &str) -> crate::Result<Self> {
        todo!()
    }
}
