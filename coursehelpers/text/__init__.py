"""Text for ULMFiT (lesson 5), in the order a lesson uses it:

- `.tokenize`: `tokenize`, `tokenize_texts`, `untokenize`.
- `.data`: `Vocab`, `texts_from_folders`, `LMStreams`, `lm_dataloaders`, `TextClassDataset`, `SortishBatches`,
  `TextPrepare`, `text_classifier_dataloaders`.
- `.awdlstm`: the AWD-LSTM and its dropouts, `LanguageModel`, `TextClassifier`.
- `.ulmfit`: fastai's LM files, `language_model_learner`, `text_classifier_learner`, `generate`, `neighbours`.
"""
