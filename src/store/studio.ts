// The zustand store: a thin holder of StudioState that applies reducer actions.
import { create } from 'zustand';
import { initialState, reduce, type Action, type StudioState } from './reducer';

export const useStudio = create<StudioState>()(() => initialState);

export function dispatch(action: Action): void {
  useStudio.setState((s) => reduce(s, action), true);
}
