// File-name conventions of the data sets, free of any reader so that the page can route a drop with them.

/** Whether a file name looks like a mask or an ROI volume (NSD nsdgeneral.nii.gz, prf-visualrois, *mask*, …). */
export const looksLikeMask = (name: string): boolean => /mask|nsdgeneral|prf-visualrois|floc-|kastner|streams|hcp_mmp|roi[_.-]/i.test(name);

/** Whether a file name is a stimulus list (BOLD5000: CSI1_stim_lists.txt). */
export const isStimulusList = (name: string): boolean => /stim.*list.*\.txt$|\.stim\.txt$/i.test(name);
