// Mocha root hooks: shared fixtures that outlive one file (the lab) are torn down here.
import { labFixture } from './helpers/lab.js';

export const mochaHooks = {
  async afterAll(this: Mocha.Context) {
    this.timeout(120_000);
    await labFixture.release();
  },
};
