//! STUB
#![allow(missing_docs, unused)]
use std::ops::Range;
#[derive(Debug, Clone)]
pub struct AddedToken {
    pub id: u32,
    pub content: String,
    pub special: bool,
    pub single_word: bool,
    pub lstrip: bool,
    pub rstrip: bool,
    pub normalized: bool,
}
pub enum Segment {
    Text(Range<usize>),
    Token { id: u32, range: Range<usize> },
}
#[derive(Debug)]
pub struct AddedVocabulary {
    t: Vec<AddedToken>,
}
impl AddedVocabulary {
    pub fn new(tokens: Vec<AddedToken>) -> Self {
        todo!()
    }
    pub fn tokens(&self) -> &[AddedToken] {
        todo!()
    }
    pub fn is_empty(&self) -> bool {
        todo!()
    }
    pub fn split_raw(&self, text: &str, out: &mut Vec<Segment>) {
        todo!()
    }
    pub fn split_normalized(&self, text: &str, out: &mut Vec<Segment>) {
        todo!()
    }
}
