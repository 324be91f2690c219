// Frames pandas saves in files only Python writes, read as the CSV (or JSON Lines) their rows
// would be, so that the rest of the preparation reads them as any other table (inputs/): pickles
// (to_pickle, zipline's perf.pickle), HDF5 stores (to_hdf, HDFStore) and to_json's layouts.
// python-pickle.ts runs a pickle without calling anything; python-values.ts and pyarrow-arrays.ts
// read what it holds; frame-csv.ts writes a frame as its to_csv.
export { hdfMembers, isHdf } from './pandas-hdf.js';
export { pandasJsonMember } from './pandas-json.js';
export { isPickle, pickleMembers } from './pandas-pickle.js';
