// The door of the archives room: what lies inside zip and tar archives and files compressed
// whole, unpacked into a preparation's own folder (members.ts), and the compressed files' names
// and inflation (compressed-files.ts).
export { archiveMembers, isCompressedFile, isTarArchive, isZipArchive, memberPath, unpackFolder, unpackFolderOf, type ArchiveMember, type UnpackedMember } from './members.js';
export { inflatedBytes, inflatedName } from './compressed-files.js';
