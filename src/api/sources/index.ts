/** The built-in sources: in-memory collections, generated data and text files. */
export { CollectionSource, type CollectionSplit } from './collection-source.ts';
export {
  type DataGeneratorOptions,
  DataGeneratorSource,
  type DataGeneratorSplit,
} from './data-generator-source.ts';
export { StaticSplitEnumerator, type StaticSplitEnumeratorState } from './static-split-enumerator.ts';
export { TextFileSource, type TextFileSourceOptions, type TextFileSplit } from './text-file-source.ts';
