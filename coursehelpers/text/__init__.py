"""Text for ULMFiT (lesson 5), in the order a lesson uses it:

- `.tokenize`: fastai's default tokenizer (its rules, then spaCy's English rules): `tokenize`,
  `tokenize_texts`, `untokenize`, and each rule on its own (`RULES`).
- `.data`: `Vocab`, `texts_from_folders`, `LMStreams`, `lm_dataloaders`, `TextClassDataset`, `SortishBatches`,
  `TextPrepare`, `text_classifier_dataloaders`.
- `.awdlstm`: the AWD-LSTM and its dropouts, `LanguageModel`, `TextClassifier`.
- `.ulmfit`: fastai's LM files (read and written in fastai's order), `language_model_learner`,
  `text_classifier_learner`, `generate`, `neighbours`.
"""
